#include "bench/variants.h"

#include "core/error.h"

namespace mla::bench {

std::string BenchShape::describe() const {
  return str("hidden ", hidden_size, ", ", num_attention_heads, " heads, ", num_hidden_layers, " layers, dense MLP ",
             intermediate_size, ", vocab ", vocab_size, "; MHA/GQA/MQA head_dim ", head_dim, " (GQA ", gqa_kv_heads,
             " K/V heads); MLA q_lora ", q_lora_rank ? std::to_string(*q_lora_rank) : "none", ", kv_lora ", kv_lora_rank,
             ", rope ", qk_rope_head_dim, ", nope ", qk_nope_head_dim, ", v ", v_head_dim);
}

const std::vector<std::string>& preset_names() {
  static const std::vector<std::string> names = {"deepseek-v2-lite-attn", "deepseek-v3-attn"};
  return names;
}

BenchShape preset_shape(const std::string& name) {
  BenchShape s;
  if (name == "deepseek-v2-lite-attn") return s;
  if (name == "deepseek-v3-attn") {
    s.hidden_size = 7168;
    s.num_attention_heads = 128;
    s.num_hidden_layers = 2;
    s.intermediate_size = 18432;
    s.gqa_kv_heads = 8;
    s.q_lora_rank = 1536;
    return s;
  }
  fail("--preset: unknown preset '", name, "' (deepseek-v2-lite-attn, deepseek-v3-attn)");
}

const std::vector<std::string>& variant_names() {
  static const std::vector<std::string> names = {"mha", "gqa", "mqa", "mla-naive", "mla-absorbed", "mla-auto"};
  return names;
}

AttnMode variant_attn_mode(const std::string& variant) {
  if (variant == "mla-naive") return AttnMode::Naive;
  if (variant == "mla-absorbed") return AttnMode::Absorbed;
  return AttnMode::Auto;
}

ModelConfig variant_config(const BenchShape& s, const std::string& variant) {
  ModelConfig c;
  c.vocab_size = s.vocab_size;
  c.hidden_size = s.hidden_size;
  c.intermediate_size = s.intermediate_size;
  c.num_hidden_layers = s.num_hidden_layers;
  c.num_attention_heads = s.num_attention_heads;
  c.max_position_embeddings = 1 << 20;
  c.rms_norm_eps = 1e-6;
  c.rope_theta = 10000.0;
  if (variant == "mha" || variant == "gqa" || variant == "mqa") {
    c.architecture = "LlamaForCausalLM";
    c.model_type = "llama";
    c.head_dim = s.head_dim;
    c.num_key_value_heads = variant == "mha" ? s.num_attention_heads : variant == "gqa" ? s.gqa_kv_heads : 1;
    if (s.num_attention_heads % c.num_key_value_heads != 0)
      fail("--gqa-kv-heads: ", c.num_key_value_heads, " does not divide ", s.num_attention_heads, " heads");
    return c;
  }
  if (variant != "mla-naive" && variant != "mla-absorbed" && variant != "mla-auto")
    fail("--variants: unknown variant '", variant, "' (mha, gqa, mqa, mla-naive, mla-absorbed, mla-auto)");
  c.architecture = "DeepseekV2ForCausalLM";
  c.model_type = "deepseek_v2";
  c.num_key_value_heads = s.num_attention_heads;
  c.q_lora_rank = s.q_lora_rank;
  c.kv_lora_rank = s.kv_lora_rank;
  c.qk_nope_head_dim = s.qk_nope_head_dim;
  c.qk_rope_head_dim = s.qk_rope_head_dim;
  c.v_head_dim = s.v_head_dim;
  return c;  // n_routed_experts unset: every layer has the same dense MLP as the baselines
}

double attention_macs(const ModelConfig& c, AttnMode mode, int64_t T, int64_t p0) {
  if (c.is_llama()) {  // q·k and p·v for every head over every causal (query, key) pair
    return static_cast<double>(c.num_hidden_layers) * c.num_attention_heads * causal_pairs(T, p0) * 2.0 * c.head_dim;
  }
  const MlaShape s{c.num_attention_heads, c.qk_nope_head_dim, c.qk_rope_head_dim, c.v_head_dim, c.kv_lora_rank, 1.0f};
  return c.num_hidden_layers * mla_attention_flops(resolve_attn_mode(mode, s, T, p0), s, T, p0);
}

}  // namespace mla::bench
