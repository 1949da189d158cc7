// KV cache accounting: exact bytes per token for every preset and dtype, checked against numbers
// worked out by hand from the published configs (each expectation spells out its product), the q8_0
// block rounding, context / budget arithmetic at the edges of 64 bits, config.json shapes, and
// one-line errors for bad arguments.
#include "kv/kv_accounting.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "core/error.h"

namespace mla::kv {
namespace {

using json = nlohmann::json;
constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

uint64_t per_token(const char* name, CacheDtype d) { return kv_bytes(preset(name), d).per_token; }
uint64_t mha_per_token(const char* name, CacheDtype d) { return mha_bytes(preset(name), d).per_token; }

// The message of the mla::Error `f` throws; fails the test when it throws nothing.
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected mla::Error";
  return "";
}

TEST(KvAccounting, DeepSeekR1) {
  const KvShape s = preset("deepseek-r1");
  EXPECT_EQ(s.kind, AttentionKind::MLA);
  EXPECT_EQ(s.n_layer, 61);
  EXPECT_EQ(s.max_context, 163840);
  // 61 x (512 + 64) x 2
  EXPECT_EQ(kv_bytes(s, CacheDtype::BF16).per_token_per_layer, 1152u);
  EXPECT_EQ(kv_bytes(s, CacheDtype::BF16).per_token, 70272u);
  // MHA with 128 heads of 128-dim keys and values: 61 x 128 x (128 + 128) x 2
  EXPECT_EQ(mha_bytes(s, CacheDtype::BF16).per_token_per_layer, 65536u);
  EXPECT_EQ(mha_bytes(s, CacheDtype::BF16).per_token, 3997696u);
  EXPECT_DOUBLE_EQ(reduction(s, CacheDtype::BF16), 32768.0 / 576.0);  // 56.89
  EXPECT_NEAR(reduction(s, CacheDtype::BF16), 56.89, 0.005);
  EXPECT_EQ(per_token("deepseek-r1", CacheDtype::F16), 70272u);
  EXPECT_EQ(per_token("deepseek-r1", CacheDtype::F32), 140544u);  // 61 x 576 x 4
  EXPECT_EQ(per_token("deepseek-r1", CacheDtype::FP8), 36356u);   // 61 x (576 + 5 scales x 4)
  EXPECT_EQ(per_token("deepseek-r1", CacheDtype::Q8_0), 37332u);  // 61 x 18 blocks x 34
  // MHA q8_0: rows of 128 x 128 = 16384 values = 512 blocks = 17408 B; 61 x 2 x 17408
  EXPECT_EQ(mha_per_token("deepseek-r1", CacheDtype::Q8_0), 2123776u);
}

TEST(KvAccounting, DeepSeekV3MatchesR1) {
  for (CacheDtype d : all_cache_dtypes()) {
    EXPECT_EQ(per_token("deepseek-v3", d), per_token("deepseek-r1", d)) << cache_dtype_name(d);
    EXPECT_EQ(mha_per_token("deepseek-v3", d), mha_per_token("deepseek-r1", d)) << cache_dtype_name(d);
  }
  EXPECT_EQ(per_token("deepseek-v3", CacheDtype::BF16), 70272u);
}

TEST(KvAccounting, DeepSeekV2AndLite) {
  EXPECT_EQ(per_token("deepseek-v2", CacheDtype::BF16), 69120u);        // 60 x 576 x 2
  EXPECT_EQ(mha_per_token("deepseek-v2", CacheDtype::BF16), 3932160u);  // 60 x 128 x 256 x 2
  EXPECT_EQ(per_token("deepseek-v2-lite", CacheDtype::BF16), 31104u);   // 27 x 576 x 2
  EXPECT_EQ(mha_per_token("deepseek-v2-lite", CacheDtype::BF16), 221184u);  // 27 x 16 x 256 x 2
  EXPECT_DOUBLE_EQ(reduction(preset("deepseek-v2-lite"), CacheDtype::BF16), 4096.0 / 576.0);  // 7.11
  EXPECT_EQ(per_token("deepseek-v2-lite", CacheDtype::F32), 62208u);   // 27 x 576 x 4
  EXPECT_EQ(per_token("deepseek-v2-lite", CacheDtype::Q8_0), 16524u);  // 27 x 612
  EXPECT_EQ(preset("deepseek-v2-lite").n_head, 16);
  EXPECT_EQ(preset("deepseek-v2").max_context, 163840);
}

TEST(KvAccounting, Gpt2) {
  const KvShape s = preset("gpt2");
  EXPECT_EQ(s.kind, AttentionKind::MHA);
  EXPECT_EQ(s.max_context, 1024);
  EXPECT_EQ(kv_bytes(s, CacheDtype::F16).per_token_per_layer, 3072u);  // 2 x 12 x 64 x 2
  EXPECT_EQ(kv_bytes(s, CacheDtype::F16).per_token, 36864u);           // x 12 layers
  EXPECT_EQ(mha_bytes(s, CacheDtype::F16).per_token, 36864u);          // MHA is its own equivalent
  EXPECT_DOUBLE_EQ(reduction(s, CacheDtype::F16), 1.0);
  EXPECT_EQ(kv_bytes(s, CacheDtype::F32).per_token, 73728u);
  EXPECT_EQ(kv_bytes(s, CacheDtype::Q8_0).per_token, 19584u);  // 12 x 2 x (768 / 32 = 24 blocks x 34 = 816)
}

TEST(KvAccounting, Llama3) {
  const KvShape s8 = preset("llama-3-8b");
  EXPECT_EQ(s8.kind, AttentionKind::GQA);
  EXPECT_EQ(s8.max_context, 8192);
  EXPECT_EQ(kv_bytes(s8, CacheDtype::BF16).per_token, 131072u);   // 32 x 2 x 8 x 128 x 2
  EXPECT_EQ(mha_bytes(s8, CacheDtype::BF16).per_token, 524288u);  // 32 x 2 x 32 x 128 x 2
  EXPECT_DOUBLE_EQ(reduction(s8, CacheDtype::BF16), 4.0);          // 32 heads / 8 KV heads
  EXPECT_EQ(kv_bytes(s8, CacheDtype::FP8).per_token, 67584u);  // 32 x 2 x (1024 + 8 scales x 4)
  EXPECT_EQ(kv_bytes(s8, CacheDtype::Q8_0).per_token, 69632u);  // 32 x 2 x (1024 / 32 x 34 = 1088)

  const KvShape s70 = preset("llama-3-70b");
  EXPECT_EQ(kv_bytes(s70, CacheDtype::BF16).per_token, 327680u);    // 80 x 2 x 8 x 128 x 2
  EXPECT_EQ(mha_bytes(s70, CacheDtype::BF16).per_token, 2621440u);  // 80 x 2 x 64 x 128 x 2
  EXPECT_DOUBLE_EQ(reduction(s70, CacheDtype::BF16), 8.0);
  EXPECT_EQ(kv_bytes(s70, CacheDtype::F32).per_token, 655360u);
}

TEST(KvAccounting, Q8_0RowRounding) {
  EXPECT_EQ(row_bytes(0, CacheDtype::Q8_0), 0u);
  EXPECT_EQ(row_bytes(1, CacheDtype::Q8_0), 34u);
  EXPECT_EQ(row_bytes(32, CacheDtype::Q8_0), 34u);
  EXPECT_EQ(row_bytes(33, CacheDtype::Q8_0), 68u);
  EXPECT_EQ(row_bytes(100, CacheDtype::Q8_0), 136u);  // ceil(100 / 32) = 4 blocks
  EXPECT_EQ(row_bytes(576, CacheDtype::Q8_0), 612u);  // 18 blocks
  EXPECT_EQ(row_bytes(576, CacheDtype::FP8), 596u);  // 5 blocks of <= 128 codes, an f32 scale each
  EXPECT_EQ(row_bytes(128, CacheDtype::FP8), 132u);
  EXPECT_EQ(row_bytes(129, CacheDtype::FP8), 137u);
  EXPECT_EQ(row_bytes(576, CacheDtype::BF16), 1152u);
  EXPECT_EQ(row_bytes(576, CacheDtype::F32), 2304u);
  // Blocks never span rows: an MLA shape with a 48-wide row pays 2 blocks per layer, not 1.5.
  KvShape s = preset("deepseek-v2-lite");
  s.kv_lora_rank = 32;
  s.qk_rope_head_dim = 16;
  EXPECT_EQ(kv_bytes(s, CacheDtype::Q8_0).per_token_per_layer, 68u);
  EXPECT_EQ(kv_bytes(s, CacheDtype::Q8_0).per_token, 27u * 68u);
  EXPECT_THROW(row_bytes(kMax, CacheDtype::F32), Error);
}

TEST(KvAccounting, ContextAndBudget) {
  EXPECT_EQ(context_bytes(70272, 163840), 11513364480ull);  // R1 bf16 at its max context
  EXPECT_EQ(context_bytes(131072, 8192), 1073741824ull);    // Llama-3-8B bf16: exactly 1 GiB
  EXPECT_EQ(context_bytes(70272, 100000), 7027200000ull);   // "100,000 tokens ~ 7 GB"
  EXPECT_EQ(context_bytes(70272, 200000), 14054400000ull);  // 14 GB, not 140
  EXPECT_EQ(tokens_in_budget(70272, 24ull << 30), 366715u);  // 24 GiB
  EXPECT_EQ(tokens_in_budget(70272, 70271), 0u);
  EXPECT_EQ(tokens_in_budget(70272, 70272), 1u);
  EXPECT_EQ(tokens_in_budget(1, kMax), kMax);
  EXPECT_EQ(tokens_in_budget(70272, kMax), kMax / 70272);
  EXPECT_EQ(context_bytes(1, kMax), kMax);
  EXPECT_EQ(context_bytes(2, kMax / 2), kMax - 1);
  const std::string e = error_of([] { context_bytes(70272, uint64_t{1} << 60); });
  EXPECT_NE(e.find("exceeds 2^64"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos);
}

TEST(KvAccounting, ParseContext) {
  EXPECT_EQ(parse_context("1"), 1u);
  EXPECT_EQ(parse_context("163840"), 163840u);
  EXPECT_EQ(parse_context("9223372036854775807"), 9223372036854775807ull);
  for (const char* bad : {"", "0", "000", "-1", "-163840", "1.5", "12k", " 5", "abc", "9223372036854775808",
                          "99999999999999999999999"}) {
    const std::string e = error_of([&] { parse_context(bad); });
    EXPECT_EQ(e.rfind("--context '", 0), 0u) << bad << ": " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos);
  }
  EXPECT_NE(error_of([] { parse_context("-5"); }).find("negative"), std::string::npos);
  EXPECT_NE(error_of([] { parse_context("0"); }).find("zero"), std::string::npos);
}

TEST(KvAccounting, ParseMem) {
  EXPECT_EQ(parse_mem("24GiB"), 24ull << 30);
  EXPECT_EQ(parse_mem("24 GiB"), 24ull << 30);
  EXPECT_EQ(parse_mem("24gib"), 24ull << 30);
  EXPECT_EQ(parse_mem("80GB"), 80000000000ull);
  EXPECT_EQ(parse_mem("4096"), 4096u);
  EXPECT_EQ(parse_mem("4096B"), 4096u);
  EXPECT_EQ(parse_mem("1KB"), 1000u);
  EXPECT_EQ(parse_mem("1KiB"), 1024u);
  EXPECT_EQ(parse_mem("3MB"), 3000000u);
  EXPECT_EQ(parse_mem("3MiB"), 3ull << 20);
  EXPECT_EQ(parse_mem("2TB"), 2000000000000ull);
  EXPECT_EQ(parse_mem("2TiB"), 2ull << 40);
  EXPECT_EQ(parse_mem("1.5GiB"), 1610612736u);
  EXPECT_EQ(parse_mem("0.5KiB"), 512u);
  EXPECT_EQ(parse_mem(".5KiB"), 512u);
  EXPECT_EQ(parse_mem("1.9"), 1u);  // fractional bytes round down
  EXPECT_EQ(parse_mem("18446744073709551615"), kMax);
  EXPECT_EQ(parse_mem("16777215.999999TiB"), (16777215ull << 40) + 1099510528264ull);  // floor(0.999999 x 2^40)
  for (const char* bad : {"", "GiB", "-1GiB", "-5", "0", "0GiB", "0.0001", "24 GiBs", "24XB", "24 G", "1e9",
                          "18446744073709551616", "16777216TiB", "99999999999999999999999999", "1..5GB"}) {
    const std::string e = error_of([&] { parse_mem(bad); });
    EXPECT_EQ(e.rfind("--mem '", 0), 0u) << bad << ": " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos);
  }
  EXPECT_NE(error_of([] { parse_mem("24XB"); }).find("unknown unit 'XB'"), std::string::npos);
  EXPECT_NE(error_of([] { parse_mem("-1GiB"); }).find("negative"), std::string::npos);
  EXPECT_NE(error_of([] { parse_mem("16777216TiB"); }).find("too large"), std::string::npos);
}

TEST(KvAccounting, DtypesAndPresets) {
  EXPECT_EQ(parse_cache_dtype("bf16"), CacheDtype::BF16);
  EXPECT_EQ(parse_cache_dtype("FP16"), CacheDtype::F16);
  EXPECT_EQ(parse_cache_dtype("fp32"), CacheDtype::F32);
  EXPECT_EQ(parse_cache_dtype("f8_e4m3"), CacheDtype::FP8);
  EXPECT_EQ(parse_cache_dtype("q8_0"), CacheDtype::Q8_0);
  EXPECT_EQ(all_cache_dtypes().size(), 5u);
  for (CacheDtype d : all_cache_dtypes()) EXPECT_EQ(parse_cache_dtype(cache_dtype_name(d)), d);
  EXPECT_NE(error_of([] { parse_cache_dtype("int4"); }).find("--kv-type 'int4'"), std::string::npos);

  EXPECT_EQ(preset_names().size(), 7u);
  for (const auto& n : preset_names()) EXPECT_NO_THROW(validate(preset(n))) << n;
  const std::string e = error_of([] { preset("llama-2-7b"); });
  EXPECT_EQ(e.rfind("--preset 'llama-2-7b': unknown preset (known: gpt2, llama-3-8b", 0), 0u) << e;
}

// The published DeepSeek-V2-Lite config.json, trimmed to what parse_config reads.
json v2_lite_config() {
  return json::parse(R"({
    "architectures": ["DeepseekV2ForCausalLM"], "model_type": "deepseek_v2", "first_k_dense_replace": 1,
    "hidden_size": 2048, "intermediate_size": 10944, "kv_lora_rank": 512, "max_position_embeddings": 163840,
    "moe_intermediate_size": 1408, "n_routed_experts": 64, "n_shared_experts": 2, "num_attention_heads": 16,
    "num_experts_per_tok": 6, "num_hidden_layers": 27, "num_key_value_heads": 16, "q_lora_rank": null,
    "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128, "vocab_size": 102400
  })");
}

TEST(KvAccounting, ShapeFromDeepSeekConfig) {
  const KvShape s = shape_from_config(parse_config(v2_lite_config(), "config.json"));
  EXPECT_EQ(s.kind, AttentionKind::MLA);
  EXPECT_EQ(s.name, "DeepseekV2ForCausalLM");
  EXPECT_EQ(s.max_context, 163840);
  for (CacheDtype d : all_cache_dtypes()) {
    EXPECT_EQ(kv_bytes(s, d).per_token, per_token("deepseek-v2-lite", d)) << cache_dtype_name(d);
    EXPECT_EQ(mha_bytes(s, d).per_token, mha_per_token("deepseek-v2-lite", d)) << cache_dtype_name(d);
  }
}

// A Llama-style config (what ModelConfig holds once it parses LlamaForCausalLM): GQA from
// num_key_value_heads, head_dim = hidden_size / num_attention_heads.
TEST(KvAccounting, ShapeFromLlamaStyleConfig) {
  ModelConfig c;
  c.architecture = "LlamaForCausalLM";
  c.model_type = "llama";
  c.hidden_size = 4096;
  c.num_hidden_layers = 32;
  c.num_attention_heads = 32;
  c.num_key_value_heads = 8;
  c.max_position_embeddings = 8192;
  KvShape s = shape_from_config(c);
  EXPECT_EQ(s.kind, AttentionKind::GQA);
  EXPECT_EQ(s.head_dim, 128);
  EXPECT_EQ(kv_bytes(s, CacheDtype::BF16).per_token, 131072u);
  EXPECT_EQ(mha_bytes(s, CacheDtype::BF16).per_token, 524288u);

  c.num_key_value_heads = 32;  // MHA
  EXPECT_EQ(shape_from_config(c).kind, AttentionKind::MHA);
  c.num_key_value_heads = 1;  // MQA
  s = shape_from_config(c);
  EXPECT_EQ(s.kind, AttentionKind::MQA);
  EXPECT_EQ(kv_bytes(s, CacheDtype::BF16).per_token, 32u * 2 * 128 * 2);
  c.num_key_value_heads = 0;  // absent: defaults to num_attention_heads
  EXPECT_EQ(shape_from_config(c).n_head_kv, 32);
  c.num_key_value_heads = 5;
  EXPECT_THROW(shape_from_config(c), Error);
  c.num_key_value_heads = 8;
  c.hidden_size = 4095;  // no head_dim and not divisible
  EXPECT_THROW(shape_from_config(c), Error);
}

// The published Meta-Llama-3-8B config.json through the real parser: GQA, 8 KV heads of 128.
TEST(KvAccounting, ShapeFromLlama3Config) {
  json j = json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "attention_bias": false, "bos_token_id": 128000, "eos_token_id": 128001,
    "hidden_act": "silu", "hidden_size": 4096, "intermediate_size": 14336, "max_position_embeddings": 8192,
    "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
    "rms_norm_eps": 1e-05, "rope_scaling": null, "rope_theta": 500000.0, "tie_word_embeddings": false,
    "torch_dtype": "bfloat16", "vocab_size": 128256
  })");
  KvShape s = shape_from_config(parse_config(j, "config.json"));
  EXPECT_EQ(s.kind, AttentionKind::GQA);
  EXPECT_EQ(s.head_dim, 128);
  EXPECT_EQ(s.max_context, 8192);
  for (CacheDtype d : all_cache_dtypes()) {
    EXPECT_EQ(kv_bytes(s, d).per_token, per_token("llama-3-8b", d)) << cache_dtype_name(d);
    EXPECT_EQ(mha_bytes(s, d).per_token, mha_per_token("llama-3-8b", d)) << cache_dtype_name(d);
  }
  // An explicit head_dim wins over hidden_size / num_attention_heads.
  j["head_dim"] = 64;
  s = shape_from_config(parse_config(j, "config.json"));
  EXPECT_EQ(s.head_dim, 64);
  EXPECT_EQ(kv_bytes(s, CacheDtype::BF16).per_token, 32u * 2 * 8 * 64 * 2);
}

TEST(KvAccounting, InvalidShapes) {
  KvShape s = preset("llama-3-8b");
  s.kind = AttentionKind::MHA;  // 8 KV heads for 32 is GQA
  EXPECT_THROW(kv_bytes(s, CacheDtype::BF16), Error);
  s = preset("deepseek-r1");
  s.kv_lora_rank = 0;
  EXPECT_THROW(kv_bytes(s, CacheDtype::BF16), Error);
  s = preset("gpt2");
  s.n_layer = -1;
  EXPECT_THROW(validate(s), Error);
  // Sizes whose bytes overflow 64 bits are reported, not wrapped.
  s = preset("gpt2");
  s.n_layer = INT64_MAX;
  EXPECT_THROW(kv_bytes(s, CacheDtype::F32), Error);
}

}  // namespace
}  // namespace mla::kv
