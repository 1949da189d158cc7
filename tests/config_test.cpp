// config.json parsing: the published DeepSeek-V2-Lite and V3 configs load with the right values; each
// bad key is named in a one-line error.
#include "model/config.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "testing/safetensors_writer.h"

namespace mla {
namespace {

using json = nlohmann::json;

// deepseek-ai/DeepSeek-V2-Lite config.json (auto_map and unused keys trimmed).
json v2_lite() {
  return json::parse(R"({
    "architectures": ["DeepseekV2ForCausalLM"], "model_type": "deepseek_v2",
    "bos_token_id": 100000, "eos_token_id": 100001, "first_k_dense_replace": 1, "hidden_act": "silu",
    "hidden_size": 2048, "intermediate_size": 10944, "kv_lora_rank": 512, "max_position_embeddings": 163840,
    "moe_intermediate_size": 1408, "moe_layer_freq": 1, "n_group": 1, "n_routed_experts": 64,
    "n_shared_experts": 2, "norm_topk_prob": false, "num_attention_heads": 16, "num_experts_per_tok": 6,
    "num_hidden_layers": 27, "num_key_value_heads": 16, "q_lora_rank": null, "qk_nope_head_dim": 128,
    "qk_rope_head_dim": 64, "rms_norm_eps": 1e-06,
    "rope_scaling": {"beta_fast": 32, "beta_slow": 1, "factor": 40, "mscale": 0.707, "mscale_all_dim": 0.707,
                     "original_max_position_embeddings": 4096, "type": "yarn"},
    "rope_theta": 10000, "routed_scaling_factor": 1.0, "scoring_func": "softmax", "tie_word_embeddings": false,
    "topk_group": 1, "topk_method": "greedy", "torch_dtype": "bfloat16", "v_head_dim": 128, "vocab_size": 102400
  })");
}

// deepseek-ai/DeepSeek-V3 config.json (quantization_config and unused keys trimmed).
json v3() {
  return json::parse(R"({
    "architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3",
    "bos_token_id": 0, "eos_token_id": 1, "first_k_dense_replace": 3, "hidden_size": 7168,
    "intermediate_size": 18432, "kv_lora_rank": 512, "max_position_embeddings": 163840,
    "moe_intermediate_size": 2048, "moe_layer_freq": 1, "n_group": 8, "n_routed_experts": 256,
    "n_shared_experts": 1, "norm_topk_prob": true, "num_attention_heads": 128, "num_experts_per_tok": 8,
    "num_hidden_layers": 61, "num_key_value_heads": 128, "num_nextn_predict_layers": 1, "q_lora_rank": 1536,
    "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "rms_norm_eps": 1e-06,
    "rope_scaling": {"beta_fast": 32, "beta_slow": 1, "factor": 40, "mscale": 1.0, "mscale_all_dim": 1.0,
                     "original_max_position_embeddings": 4096, "type": "yarn"},
    "rope_theta": 10000, "routed_scaling_factor": 2.5, "scoring_func": "sigmoid", "tie_word_embeddings": false,
    "topk_group": 4, "topk_method": "noaux_tc", "v_head_dim": 128, "vocab_size": 129280
  })");
}

// Expects parse_config(j) to fail with a message starting "cfg.json: " and containing `part`.
void expect_bad(const json& j, const std::string& part) {
  try {
    parse_config(j, "cfg.json");
    ADD_FAILURE() << "accepted; expected '" << part << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("cfg.json: ", 0), 0u) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_NE(msg.find(part), std::string::npos) << "'" << part << "' not in: " << msg;
  }
}

json with(json j, const std::string& key, json value) {
  j[key] = std::move(value);
  return j;
}
json without(json j, const std::string& key) {
  j.erase(key);
  return j;
}

TEST(Config, DeepSeekV2Lite) {
  ModelConfig c = parse_config(v2_lite(), "cfg.json");
  EXPECT_EQ(c.architecture, "DeepseekV2ForCausalLM");
  EXPECT_EQ(c.model_type, "deepseek_v2");
  EXPECT_FALSE(c.is_v3());
  EXPECT_EQ(c.vocab_size, 102400);
  EXPECT_EQ(c.hidden_size, 2048);
  EXPECT_EQ(c.intermediate_size, 10944);
  EXPECT_EQ(c.moe_intermediate_size, 1408);
  EXPECT_EQ(c.num_hidden_layers, 27);
  EXPECT_EQ(c.num_attention_heads, 16);
  EXPECT_EQ(c.num_key_value_heads, 16);
  EXPECT_EQ(c.max_position_embeddings, 163840);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  ASSERT_TRUE(c.rope_scaling.has_value());
  EXPECT_DOUBLE_EQ(c.rope_scaling->factor, 40.0);
  EXPECT_EQ(c.rope_scaling->original_max_position_embeddings, 4096);
  EXPECT_DOUBLE_EQ(c.rope_scaling->mscale, 0.707);
  EXPECT_DOUBLE_EQ(c.rope_scaling->mscale_all_dim, 0.707);
  EXPECT_FALSE(c.q_lora_rank.has_value());
  EXPECT_EQ(c.kv_lora_rank, 512);
  EXPECT_EQ(c.qk_head_dim(), 192);
  EXPECT_EQ(c.v_head_dim, 128);
  EXPECT_EQ(c.n_routed_experts, 64);
  EXPECT_EQ(c.n_shared_experts, 2);
  EXPECT_EQ(c.num_experts_per_tok, 6);
  EXPECT_EQ(c.first_k_dense_replace, 1);
  EXPECT_FALSE(c.is_moe_layer(0));
  EXPECT_TRUE(c.is_moe_layer(1));
  EXPECT_EQ(c.scoring_func, ScoringFunc::Softmax);
  EXPECT_EQ(c.topk_method, TopkMethod::Greedy);
  EXPECT_FALSE(c.norm_topk_prob);
  EXPECT_EQ(c.bos_token_id, 100000);
  EXPECT_EQ(c.eos_token_id, 100001);
}

TEST(Config, DeepSeekV3) {
  ModelConfig c = parse_config(v3(), "cfg.json");
  EXPECT_TRUE(c.is_v3());
  EXPECT_EQ(c.q_lora_rank, 1536);
  EXPECT_EQ(c.n_routed_experts, 256);
  EXPECT_EQ(c.n_group, 8);
  EXPECT_EQ(c.topk_group, 4);
  EXPECT_EQ(c.scoring_func, ScoringFunc::Sigmoid);
  EXPECT_EQ(c.topk_method, TopkMethod::NoauxTc);
  EXPECT_TRUE(c.norm_topk_prob);
  EXPECT_DOUBLE_EQ(c.routed_scaling_factor, 2.5);
  EXPECT_FALSE(c.is_moe_layer(2));
  EXPECT_TRUE(c.is_moe_layer(3));
}

TEST(Config, Defaults) {
  json j = v2_lite();
  for (const char* k : {"rope_scaling", "n_group", "topk_group", "norm_topk_prob", "routed_scaling_factor",
                        "moe_layer_freq", "first_k_dense_replace", "n_shared_experts", "rms_norm_eps", "rope_theta",
                        "tie_word_embeddings", "bos_token_id", "eos_token_id", "topk_method", "scoring_func",
                        "model_type", "num_key_value_heads"})
    j.erase(k);
  ModelConfig c = parse_config(j, "cfg.json");
  EXPECT_FALSE(c.rope_scaling.has_value());
  EXPECT_EQ(c.n_group, 1);
  EXPECT_EQ(c.topk_group, 1);
  EXPECT_FALSE(c.norm_topk_prob);
  EXPECT_DOUBLE_EQ(c.routed_scaling_factor, 1.0);
  EXPECT_EQ(c.moe_layer_freq, 1);
  EXPECT_EQ(c.first_k_dense_replace, 0);
  EXPECT_EQ(c.n_shared_experts, 0);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.bos_token_id.has_value());
  EXPECT_FALSE(c.eos_token_id.has_value());
  EXPECT_EQ(c.topk_method, TopkMethod::Greedy);  // V2 default
  EXPECT_EQ(c.scoring_func, ScoringFunc::Softmax);
  EXPECT_EQ(c.model_type, "deepseek_v2");
  EXPECT_EQ(c.num_key_value_heads, 16);

  EXPECT_EQ(parse_config(without(v3(), "topk_method"), "cfg.json").topk_method, TopkMethod::NoauxTc);  // V3 default
  EXPECT_EQ(parse_config(with(v2_lite(), "n_shared_experts", nullptr), "cfg.json").n_shared_experts, 0);

  // YaRN keys absent: HF defaults.
  json y = v2_lite();
  y["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4}};
  ModelConfig cy = parse_config(y, "cfg.json");
  ASSERT_TRUE(cy.rope_scaling.has_value());
  EXPECT_DOUBLE_EQ(cy.rope_scaling->beta_fast, 32.0);
  EXPECT_DOUBLE_EQ(cy.rope_scaling->beta_slow, 1.0);
  EXPECT_DOUBLE_EQ(cy.rope_scaling->mscale, 1.0);
  EXPECT_DOUBLE_EQ(cy.rope_scaling->mscale_all_dim, 0.0);
  EXPECT_EQ(cy.rope_scaling->original_max_position_embeddings, 4096);
}

TEST(Config, DenseModel) {
  json j = with(v2_lite(), "n_routed_experts", nullptr);
  j.erase("num_experts_per_tok");
  j.erase("moe_intermediate_size");
  ModelConfig c = parse_config(j, "cfg.json");
  EXPECT_FALSE(c.n_routed_experts.has_value());
  EXPECT_FALSE(c.is_moe_layer(5));
  EXPECT_FALSE(parse_config(without(v2_lite(), "n_routed_experts"), "cfg.json").n_routed_experts.has_value());
}

TEST(Config, EosList) {
  EXPECT_EQ(parse_config(with(v2_lite(), "eos_token_id", {7, 8}), "cfg.json").eos_token_id, 7);
  expect_bad(with(v2_lite(), "eos_token_id", json::array()), "key 'eos_token_id'");
  expect_bad(with(v2_lite(), "eos_token_id", {"x"}), "key 'eos_token_id'");
}

TEST(Config, Architecture) {
  expect_bad(without(v2_lite(), "architectures"), "key 'architectures': missing");
  expect_bad(with(v2_lite(), "architectures", {"MistralForCausalLM"}),
             "unsupported architecture 'MistralForCausalLM' (supported: DeepseekV2ForCausalLM, DeepseekV3ForCausalLM, "
             "LlamaForCausalLM)");
  expect_bad(with(v2_lite(), "architectures", "DeepseekV2ForCausalLM"), "key 'architectures': expected a non-empty array");
  expect_bad(with(v2_lite(), "architectures", json::array()), "key 'architectures'");
  expect_bad(json::array(), "expected a JSON object");
}

TEST(Config, BadIntegers) {
  expect_bad(with(v2_lite(), "kv_lora_rank", "abc"), "key 'kv_lora_rank': expected a positive integer, got \"abc\"");
  expect_bad(with(v2_lite(), "kv_lora_rank", 512.0), "key 'kv_lora_rank': expected a positive integer, got 512.0");
  expect_bad(with(v2_lite(), "kv_lora_rank", -512), "key 'kv_lora_rank': expected a positive integer, got -512");
  expect_bad(with(v2_lite(), "kv_lora_rank", 0), "key 'kv_lora_rank': expected a positive integer, got 0");
  expect_bad(with(v2_lite(), "kv_lora_rank", nullptr), "key 'kv_lora_rank': expected a positive integer, got null");
  expect_bad(with(v2_lite(), "kv_lora_rank", true), "key 'kv_lora_rank': expected a positive integer, got true");
  expect_bad(without(v2_lite(), "kv_lora_rank"), "key 'kv_lora_rank': missing (expected a positive integer)");
  expect_bad(with(v2_lite(), "vocab_size", 18446744073709551615ull), "key 'vocab_size'");
  for (const char* k : {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                        "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim", "moe_intermediate_size",
                        "num_experts_per_tok", "n_routed_experts", "max_position_embeddings", "moe_layer_freq",
                        "n_group", "topk_group"}) {
    expect_bad(with(v2_lite(), k, -1), std::string("key '") + k + "': expected a positive integer, got -1");
    expect_bad(with(v2_lite(), k, "8"), std::string("key '") + k + "': expected a positive integer, got \"8\"");
  }
  for (const char* k : {"first_k_dense_replace", "n_shared_experts", "bos_token_id", "eos_token_id"})
    expect_bad(with(v2_lite(), k, -1), std::string("key '") + k + "': expected a non-negative integer, got -1");
  expect_bad(with(v2_lite(), "q_lora_rank", 0), "key 'q_lora_rank': expected a positive integer, got 0");
  expect_bad(without(v2_lite(), "q_lora_rank"), "key 'q_lora_rank': missing");
}

TEST(Config, BadOtherKeys) {
  expect_bad(with(v2_lite(), "rms_norm_eps", 0), "key 'rms_norm_eps': expected a positive number, got 0");
  expect_bad(with(v2_lite(), "rms_norm_eps", "1e-6"), "key 'rms_norm_eps'");
  expect_bad(with(v2_lite(), "rope_theta", -1.0), "key 'rope_theta'");
  expect_bad(with(v2_lite(), "routed_scaling_factor", "x"), "key 'routed_scaling_factor'");
  expect_bad(with(v2_lite(), "norm_topk_prob", 1), "key 'norm_topk_prob': expected true or false, got 1");
  expect_bad(with(v2_lite(), "tie_word_embeddings", "false"), "key 'tie_word_embeddings'");
  expect_bad(with(v2_lite(), "scoring_func", "relu"), "key 'scoring_func': expected \"softmax\" or \"sigmoid\", got \"relu\"");
  expect_bad(with(v2_lite(), "scoring_func", 3), "key 'scoring_func': expected a string, got 3");
  expect_bad(with(v2_lite(), "topk_method", "top1"), "key 'topk_method'");
  expect_bad(with(v2_lite(), "qk_rope_head_dim", 63), "key 'qk_rope_head_dim': expected an even number");
  expect_bad(with(v2_lite(), "num_key_value_heads", 3), "key 'num_key_value_heads': 3 does not divide");
}

TEST(Config, BadRopeScaling) {
  expect_bad(with(v2_lite(), "rope_scaling", "yarn"), "key 'rope_scaling': expected null or an object");
  expect_bad(with(v2_lite(), "rope_scaling", {{"type", "linear"}, {"factor", 2}}),
             "rope_scaling: unsupported type 'linear' (only \"yarn\" is supported)");
  expect_bad(with(v2_lite(), "rope_scaling", {{"factor", 2}}), "rope_scaling: missing 'type'");
  expect_bad(with(v2_lite(), "rope_scaling", {{"type", "yarn"}}), "rope_scaling: key 'factor': missing");
  expect_bad(with(v2_lite(), "rope_scaling", {{"type", "yarn"}, {"factor", 0.5}}), "key 'factor': expected a number >= 1");
  expect_bad(with(v2_lite(), "rope_scaling", {{"type", "yarn"}, {"factor", 40}, {"beta_fast", "32"}}),
             "rope_scaling: key 'beta_fast'");
  expect_bad(with(v2_lite(), "rope_scaling", {{"type", "yarn"}, {"factor", 40}, {"original_max_position_embeddings", 4096.5}}),
             "rope_scaling: key 'original_max_position_embeddings': expected a positive integer");
}

TEST(Config, MoeCrossChecks) {
  expect_bad(with(v2_lite(), "num_experts_per_tok", 65), "key 'num_experts_per_tok': 65 exceeds n_routed_experts 64");
  expect_bad(with(v3(), "n_group", 7), "key 'n_group': n_routed_experts 256 is not divisible by n_group 7");
  expect_bad(with(v3(), "topk_group", 9), "key 'topk_group': 9 exceeds n_group 8");
  // 8 groups of 32 experts, 1 group chosen: at most 32 experts reachable.
  json j = with(with(v3(), "topk_group", 1), "num_experts_per_tok", 33);
  expect_bad(j, "key 'num_experts_per_tok': 33 exceeds topk_group x experts per group = 1 x 32 = 32");
  j["topk_method"] = "greedy";  // greedy ignores groups
  EXPECT_NO_THROW(parse_config(j, "cfg.json"));
}

TEST(Config, LoadFile) {
  testing::TempDir dir;
  testing::write_bytes(dir / "config.json", v2_lite().dump(2));
  EXPECT_EQ(load_config(dir / "config.json").hidden_size, 2048);

  testing::write_bytes(dir / "config.json", "{\"architectures\": [\"DeepseekV2ForCausalLM\"],");
  try {
    load_config(dir / "config.json");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(dir / "config.json" + ": malformed JSON: ", 0), 0u) << e.what();
  }
  testing::write_bytes(dir / "config.json", "{\"vocab_size\": 1, \"vocab_size\": 2}");
  EXPECT_THROW(load_config(dir / "config.json"), Error);
  try {
    load_config(dir / "nope.json");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nope.json: does not exist"), std::string::npos) << e.what();
  }
}

// meta-llama/Llama-3.1-8B-Instruct config.json (unused keys trimmed): GQA 32 / 8, llama3 rope scaling,
// three end-of-sequence ids.
json llama31_8b() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
    "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "hidden_act": "silu",
    "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336, "max_position_embeddings": 131072,
    "mlp_bias": false, "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 32,
    "num_key_value_heads": 8, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16", "use_cache": true,
    "vocab_size": 128256
  })");
}

// meta-llama/Llama-3.2-1B config.json: explicit head_dim, tied embeddings.
json llama32_1b() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "attention_bias": false, "bos_token_id": 128000,
    "eos_token_id": 128001, "head_dim": 64, "hidden_act": "silu", "hidden_size": 2048,
    "intermediate_size": 8192, "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama",
    "num_attention_heads": 32, "num_hidden_layers": 16, "num_key_value_heads": 8, "rms_norm_eps": 1e-05,
    "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "rope_theta": 500000.0, "tie_word_embeddings": true, "vocab_size": 128256
  })");
}

// meta-llama/Llama-2-7b-hf config.json: MHA, no rope scaling.
json llama2_7b() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
    "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 11008, "max_position_embeddings": 4096,
    "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32,
    "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": null, "tie_word_embeddings": false,
    "torch_dtype": "float16", "vocab_size": 32000
  })");
}

TEST(Config, Llama31) {
  ModelConfig c = parse_config(llama31_8b(), "cfg.json");
  EXPECT_TRUE(c.is_llama());
  EXPECT_FALSE(c.is_v3());
  EXPECT_EQ(c.model_type, "llama");
  EXPECT_EQ(c.vocab_size, 128256);
  EXPECT_EQ(c.hidden_size, 4096);
  EXPECT_EQ(c.intermediate_size, 14336);
  EXPECT_EQ(c.num_hidden_layers, 32);
  EXPECT_EQ(c.num_attention_heads, 32);
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_EQ(c.head_dim, 128);  // hidden / heads
  EXPECT_EQ(c.max_position_embeddings, 131072);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  ASSERT_TRUE(c.rope_scaling.has_value());
  EXPECT_EQ(c.rope_scaling->type, RopeType::Llama3);
  EXPECT_DOUBLE_EQ(c.rope_scaling->factor, 8.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling->low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling->high_freq_factor, 4.0);
  EXPECT_EQ(c.rope_scaling->original_max_position_embeddings, 8192);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.bos_token_id, 128000);
  EXPECT_EQ(c.eos_token_id, 128001);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{128001, 128008, 128009}));
  EXPECT_FALSE(c.n_routed_experts.has_value());
  EXPECT_FALSE(c.is_moe_layer(3));
}

TEST(Config, Llama32And2) {
  ModelConfig c = parse_config(llama32_1b(), "cfg.json");
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_DOUBLE_EQ(c.rope_scaling->factor, 32.0);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{128001}));

  ModelConfig m = parse_config(llama2_7b(), "cfg.json");
  EXPECT_EQ(m.num_key_value_heads, 32);  // MHA
  EXPECT_EQ(m.head_dim, 128);
  EXPECT_FALSE(m.rope_scaling.has_value());
  EXPECT_DOUBLE_EQ(m.rope_theta, 10000.0);  // default
  EXPECT_EQ(m.eos_token_id, 2);

  // HF LlamaConfig defaults: num_key_value_heads = heads, no scaling, untied.
  json j = llama2_7b();
  for (const char* k : {"num_key_value_heads", "rope_scaling", "tie_word_embeddings", "model_type", "rms_norm_eps",
                        "hidden_act", "max_position_embeddings", "eos_token_id", "bos_token_id"})
    j.erase(k);
  ModelConfig d = parse_config(j, "cfg.json");
  EXPECT_EQ(d.num_key_value_heads, 32);
  EXPECT_FALSE(d.rope_scaling.has_value());
  EXPECT_FALSE(d.tie_word_embeddings);
  EXPECT_EQ(d.model_type, "llama");
  EXPECT_EQ(d.max_position_embeddings, 2048);
  EXPECT_TRUE(d.eos_token_ids.empty());
  // MQA, and rope_type "default" (HF's name for none).
  EXPECT_EQ(parse_config(with(llama2_7b(), "num_key_value_heads", 1), "cfg.json").num_key_value_heads, 1);
  EXPECT_FALSE(parse_config(with(llama2_7b(), "rope_scaling", {{"rope_type", "default"}}), "cfg.json").rope_scaling);
  // The older "type" key works too.
  json t = llama31_8b();
  t["rope_scaling"].erase("rope_type");
  t["rope_scaling"]["type"] = "llama3";
  EXPECT_EQ(parse_config(t, "cfg.json").rope_scaling->type, RopeType::Llama3);
  // DeepSeek's MLA keys are not required for Llama.
  EXPECT_EQ(parse_config(llama2_7b(), "cfg.json").kv_lora_rank, 0);
}

TEST(Config, LlamaBadKeys) {
  expect_bad(with(llama31_8b(), "num_key_value_heads", 5), "key 'num_key_value_heads': 5 does not divide num_attention_heads 32");
  expect_bad(with(llama31_8b(), "num_key_value_heads", 0), "key 'num_key_value_heads': expected a positive integer, got 0");
  expect_bad(with(llama31_8b(), "head_dim", 63), "key 'head_dim': expected an even number");
  expect_bad(with(llama31_8b(), "head_dim", -1), "key 'head_dim': expected a positive integer, got -1");
  expect_bad(with(llama31_8b(), "hidden_size", 4100), "key 'head_dim': missing, and hidden_size 4100 is not divisible");
  expect_bad(with(llama31_8b(), "attention_bias", true), "key 'attention_bias': true is not supported");
  expect_bad(with(llama31_8b(), "mlp_bias", true), "key 'mlp_bias': true is not supported");
  expect_bad(with(llama31_8b(), "attention_bias", "no"), "key 'attention_bias': expected true or false");
  expect_bad(with(llama31_8b(), "hidden_act", "gelu"), "key 'hidden_act': expected \"silu\", got \"gelu\"");
  expect_bad(without(llama31_8b(), "intermediate_size"), "key 'intermediate_size': missing");
  expect_bad(with(llama31_8b(), "eos_token_id", {128001, -1}), "key 'eos_token_id'");
  expect_bad(with(llama31_8b(), "eos_token_id", json::array()), "key 'eos_token_id'");
}

TEST(Config, LlamaBadRopeScaling) {
  auto rs = [](json scaling) { return with(llama31_8b(), "rope_scaling", std::move(scaling)); };
  expect_bad(rs("llama3"), "key 'rope_scaling': expected null or an object");
  expect_bad(rs({{"rope_type", "yarn"}, {"factor", 4}}), "rope_scaling: unsupported rope_type 'yarn' (only \"llama3\" is supported)");
  expect_bad(rs({{"rope_type", "linear"}, {"factor", 4}}), "rope_scaling: unsupported rope_type 'linear'");
  expect_bad(rs({{"rope_type", "dynamic"}, {"factor", 4}}), "rope_scaling: unsupported rope_type 'dynamic'");
  expect_bad(rs({{"factor", 4}}), "rope_scaling: missing 'rope_type'");
  json base = llama31_8b()["rope_scaling"];
  for (const char* k : {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}) {
    json s = base;
    s.erase(k);
    expect_bad(rs(s), std::string("rope_scaling: key '") + k + "': missing");
  }
  json s = base;
  s["factor"] = 0.5;
  expect_bad(rs(s), "rope_scaling: key 'factor': expected a number >= 1");
  s = base;
  s["high_freq_factor"] = 1.0;
  expect_bad(rs(s), "rope_scaling: key 'high_freq_factor': 1 must exceed low_freq_factor 1");
  s = base;
  s["original_max_position_embeddings"] = "8192";
  expect_bad(rs(s), "rope_scaling: key 'original_max_position_embeddings': expected a positive integer");
  // DeepSeek still accepts only YaRN.
  expect_bad(with(v2_lite(), "rope_scaling", base), "rope_scaling: unsupported type 'llama3' (only \"yarn\" is supported)");
}

TEST(Config, EosListKeepsAll) {
  ModelConfig c = parse_config(with(v2_lite(), "eos_token_id", {7, 8}), "cfg.json");
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{7, 8}));
  EXPECT_EQ(parse_config(v2_lite(), "cfg.json").eos_token_ids, (std::vector<int64_t>{100001}));
}

}  // namespace
}  // namespace mla
