#include "model/gguf_config.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "model/gguf_names.h"

namespace mla {

namespace {

constexpr uint32_t kGatingSoftmax = 1, kGatingSigmoid = 2;  // llama_expert_gating_func_type

// A positive size that fits the engine's int64 arithmetic with room to multiply.
int64_t size_key(const GgufFile& f, const std::string& key, std::optional<uint64_t> def = std::nullopt, uint64_t min = 1) {
  const uint64_t v = def ? f.get_uint(key, *def) : f.get_uint(key);
  if (v < min || v > (uint64_t{1} << 31))
    fail(f.path(), ": key '", key, "' is ", v, ", expected ", min == 0 ? "0" : "1", " .. 2^31");
  return static_cast<int64_t>(v);
}

void rope_scaling(const GgufFile& f, const std::string& p, ModelConfig& c) {
  const std::string type = f.get_string(p + "rope.scaling.type", "none");
  if (type == "none") return;
  if (type != "yarn" || c.is_llama())
    fail(f.path(), ": key '", p, "rope.scaling.type' is '", type, "', not supported (", c.is_llama() ? "none" : "none or yarn",
         ")");
  RopeScaling y;
  y.factor = f.get_float(p + "rope.scaling.factor");
  if (!(y.factor >= 1)) fail(f.path(), ": key '", p, "rope.scaling.factor' is ", y.factor, ", expected >= 1");
  y.original_max_position_embeddings = size_key(f, p + "rope.scaling.original_context_length");
  y.beta_fast = f.get_float(p + "rope.scaling.yarn_beta_fast", 32.0);
  y.beta_slow = f.get_float(p + "rope.scaling.yarn_beta_slow", 1.0);
  // llama.cpp's deepseek2 graph scales attention by (1 + log_mul * ln factor)^2 and leaves the rotated
  // vectors' magnitude alone: Hugging Face's mscale == mscale_all_dim == log_mul / 0.1.
  if (f.has(p + "rope.scaling.yarn_log_multiplier")) {
    y.mscale = y.mscale_all_dim = f.get_float(p + "rope.scaling.yarn_log_multiplier") / 0.1;
    if (!std::isfinite(y.mscale) || y.mscale < 0)
      fail(f.path(), ": key '", p, "rope.scaling.yarn_log_multiplier' must be a non-negative number");
  }
  if (!std::isfinite(y.beta_fast) || !std::isfinite(y.beta_slow) || y.beta_fast <= 0 || y.beta_slow <= 0)
    fail(f.path(), ": YaRN beta_fast / beta_slow must be positive numbers");
  c.rope_scaling = y;
}

void deepseek2(const GgufFile& f, const std::string& p, ModelConfig& c) {
  c.num_key_value_heads = c.num_attention_heads;  // informational for MLA (GGUF stores 1: the latent MQA)
  if (f.get_uint(p + "attention.q_lora_rank", 0) > 0) c.q_lora_rank = size_key(f, p + "attention.q_lora_rank");
  c.kv_lora_rank = size_key(f, p + "attention.kv_lora_rank");
  c.qk_rope_head_dim = size_key(f, p + "rope.dimension_count");
  const bool mla = f.has(p + "attention.key_length_mla");
  const int64_t qk = size_key(f, p + (mla ? "attention.key_length_mla" : "attention.key_length"));
  c.v_head_dim = size_key(f, p + (mla ? "attention.value_length_mla" : "attention.value_length"));
  if (qk <= c.qk_rope_head_dim || c.qk_rope_head_dim % 2 != 0)
    fail(f.path(), ": key length ", qk, " and rope dimension ", c.qk_rope_head_dim,
         " leave no non-rotary part (or the rope dimension is odd)");
  c.qk_nope_head_dim = qk - c.qk_rope_head_dim;
  if (mla && (size_key(f, p + "attention.key_length") != c.kv_lora_rank + c.qk_rope_head_dim ||
              size_key(f, p + "attention.value_length") != c.kv_lora_rank))
    fail(f.path(), ": ", p, "attention.key_length / value_length disagree with kv_lora_rank + rope / kv_lora_rank");

  c.first_k_dense_replace = size_key(f, p + "leading_dense_block_count", 0, 0);
  const int64_t E = size_key(f, p + "expert_count", 0, 0);
  if (E > 0 && c.first_k_dense_replace < c.num_hidden_layers) {
    c.n_routed_experts = E;
    c.moe_intermediate_size = size_key(f, p + "expert_feed_forward_length");
    c.num_experts_per_tok = size_key(f, p + "expert_used_count");
    c.n_shared_experts = size_key(f, p + "expert_shared_count", 0, 0);
    c.routed_scaling_factor = f.get_float(p + "expert_weights_scale", 1.0);
    c.norm_topk_prob = f.get_bool(p + "expert_weights_norm", false);
    const uint64_t gating = f.get_uint(p + "expert_gating_func", kGatingSoftmax);
    if (gating != kGatingSoftmax && gating != kGatingSigmoid)
      fail(f.path(), ": key '", p, "expert_gating_func' is ", gating, " (supported: 1 softmax, 2 sigmoid)");
    c.scoring_func = gating == kGatingSigmoid ? ScoringFunc::Sigmoid : ScoringFunc::Softmax;
    c.n_group = size_key(f, p + "expert_group_count", 1);
    c.topk_group = size_key(f, p + "expert_group_used_count", 1);
    if (!(c.routed_scaling_factor > 0) || !std::isfinite(c.routed_scaling_factor))
      fail(f.path(), ": key '", p, "expert_weights_scale' must be a positive number");
    if (c.num_experts_per_tok > E || E % c.n_group != 0 || c.topk_group > c.n_group)
      fail(f.path(), ": expert counts disagree: ", E, " experts, ", c.num_experts_per_tok, " used, ", c.n_group,
           " groups, ", c.topk_group, " groups used");
    bool bias = false;
    for (const TensorView& t : f.tensors())
      if (auto b = gguf_block(t.name); b && b->second == "exp_probs_b.bias") bias = true;
    c.topk_method = bias ? TopkMethod::NoauxTc : c.n_group > 1 ? TopkMethod::GroupLimitedGreedy : TopkMethod::Greedy;
  } else {
    c.first_k_dense_replace = c.num_hidden_layers;
  }
  c.architecture = c.topk_method == TopkMethod::NoauxTc ? "DeepseekV3ForCausalLM" : "DeepseekV2ForCausalLM";
  c.model_type = c.topk_method == TopkMethod::NoauxTc ? "deepseek_v3" : "deepseek_v2";
  rope_scaling(f, p, c);
}

void llama(const GgufFile& f, const std::string& p, ModelConfig& c) {
  c.architecture = "LlamaForCausalLM";
  c.model_type = "llama";
  c.num_key_value_heads = size_key(f, p + "attention.head_count_kv", static_cast<uint64_t>(c.num_attention_heads));
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    fail(f.path(), ": ", c.num_key_value_heads, " kv heads do not divide ", c.num_attention_heads, " heads");
  c.head_dim = f.has(p + "attention.key_length") ? size_key(f, p + "attention.key_length")
                                                 : c.hidden_size / c.num_attention_heads;
  if (size_key(f, p + "attention.value_length", static_cast<uint64_t>(c.head_dim)) != c.head_dim)
    fail(f.path(), ": ", p, "attention.value_length differs from key_length (not a Llama model)");
  if (c.head_dim <= 0 || c.head_dim % 2 != 0) fail(f.path(), ": head dimension ", c.head_dim, " must be even");
  if (size_key(f, p + "rope.dimension_count", static_cast<uint64_t>(c.head_dim)) != c.head_dim)
    fail(f.path(), ": ", p, "rope.dimension_count differs from the head dimension (partial rotary is not supported)");
  if (const TensorView* t = f.find("rope_freqs.weight")) {  // llama3 scaling (LlamaModel.generate_extra_tensors)
    if (t->dtype != DType::F32 || t->shape != std::vector<int64_t>{c.head_dim / 2})
      fail(f.path(), ": tensor rope_freqs.weight is ", dtype_name(t->dtype), " ", t->shape_str(), ", expected F32 [",
           c.head_dim / 2, "]");
    c.rope_freq_factors.resize(c.head_dim / 2);
    std::memcpy(c.rope_freq_factors.data(), t->data, t->nbytes);
    for (float x : c.rope_freq_factors)
      if (!(x > 0) || !std::isfinite(x)) fail(f.path(), ": tensor rope_freqs.weight holds ", x, ", not a positive factor");
  }
  rope_scaling(f, p, c);
}

}  // namespace

ModelConfig gguf_config(const GgufFile& f) {
  const std::string arch = f.get_string("general.architecture");
  if (arch != "deepseek2" && arch != "llama")
    fail(f.path(), ": unsupported GGUF architecture '", arch, "' (supported: deepseek2, llama)");
  const std::string p = arch + ".";
  ModelConfig c;
  const TensorView* embd = f.find("token_embd.weight");
  if (!embd || embd->shape.size() != 2) fail(f.path(), ": missing 2-D tensor token_embd.weight");
  c.vocab_size = embd->shape[0];
  c.hidden_size = size_key(f, p + "embedding_length");
  c.num_hidden_layers = size_key(f, p + "block_count");
  c.num_attention_heads = size_key(f, p + "attention.head_count");
  c.max_position_embeddings = size_key(f, p + "context_length");
  c.intermediate_size = size_key(f, p + "feed_forward_length");
  c.rms_norm_eps = f.get_float(p + "attention.layer_norm_rms_epsilon");
  c.rope_theta = f.get_float(p + "rope.freq_base", 10000.0);
  if (!(c.rms_norm_eps > 0) || !std::isfinite(c.rms_norm_eps) || !(c.rope_theta > 0) || !std::isfinite(c.rope_theta))
    fail(f.path(), ": layer_norm_rms_epsilon and rope.freq_base must be positive numbers");
  c.tie_word_embeddings = f.find("output.weight") == nullptr;
  if (f.has("tokenizer.ggml.bos_token_id")) c.bos_token_id = static_cast<int64_t>(f.get_uint("tokenizer.ggml.bos_token_id"));
  if (f.has("tokenizer.ggml.eos_token_id")) {
    c.eos_token_id = static_cast<int64_t>(f.get_uint("tokenizer.ggml.eos_token_id"));
    c.eos_token_ids = {*c.eos_token_id};
  }
  if (arch == "deepseek2") deepseek2(f, p, c);
  else llama(f, p, c);
  return c;
}

void add_gguf_config(GgufWriter& w, const ModelConfig& c) {
  const bool ds = !c.is_llama();
  const std::string arch = ds ? "deepseek2" : "llama", p = arch + ".";
  w.add_string("general.architecture", arch);
  w.add_u32(p + "context_length", static_cast<uint32_t>(c.max_position_embeddings));
  w.add_u32(p + "embedding_length", static_cast<uint32_t>(c.hidden_size));
  w.add_u32(p + "block_count", static_cast<uint32_t>(c.num_hidden_layers));
  w.add_u32(p + "feed_forward_length", static_cast<uint32_t>(c.intermediate_size));
  w.add_u32(p + "attention.head_count", static_cast<uint32_t>(c.num_attention_heads));
  w.add_f32(p + "rope.freq_base", static_cast<float>(c.rope_theta));
  w.add_f32(p + "attention.layer_norm_rms_epsilon", static_cast<float>(c.rms_norm_eps));
  w.add_u32(p + "vocab_size", static_cast<uint32_t>(c.vocab_size));
  if (!ds) {
    // llama3 rope_scaling goes in the rope_freqs.weight tensor (model/gguf_export.cpp), not in keys.
    w.add_u32(p + "attention.head_count_kv", static_cast<uint32_t>(c.num_key_value_heads));
    w.add_u32(p + "attention.key_length", static_cast<uint32_t>(c.head_dim));
    w.add_u32(p + "attention.value_length", static_cast<uint32_t>(c.head_dim));
    w.add_u32(p + "rope.dimension_count", static_cast<uint32_t>(c.head_dim));
    return;
  }
  const uint32_t R = static_cast<uint32_t>(c.kv_lora_rank), rope = static_cast<uint32_t>(c.qk_rope_head_dim);
  w.add_u32(p + "attention.head_count_kv", 1);  // MLA as MQA over the latent
  w.add_u32(p + "leading_dense_block_count",
            static_cast<uint32_t>(c.n_routed_experts ? c.first_k_dense_replace : c.num_hidden_layers));
  // 0 when q is one plain projection: llama.cpp reads the key without a default.
  w.add_u32(p + "attention.q_lora_rank", static_cast<uint32_t>(c.q_lora_rank.value_or(0)));
  w.add_u32(p + "attention.kv_lora_rank", R);
  w.add_u32(p + "attention.key_length", R + rope);
  w.add_u32(p + "attention.value_length", R);
  w.add_u32(p + "attention.key_length_mla", static_cast<uint32_t>(c.qk_head_dim()));
  w.add_u32(p + "attention.value_length_mla", static_cast<uint32_t>(c.v_head_dim));
  w.add_u32(p + "rope.dimension_count", rope);
  if (c.n_routed_experts) {
    if (c.moe_layer_freq != 1) fail("convert: moe_layer_freq ", c.moe_layer_freq, " cannot be expressed in GGUF (only 1)");
    w.add_u32(p + "expert_feed_forward_length", static_cast<uint32_t>(c.moe_intermediate_size));
    w.add_u32(p + "expert_count", static_cast<uint32_t>(*c.n_routed_experts));
    w.add_u32(p + "expert_shared_count", static_cast<uint32_t>(c.n_shared_experts));
    w.add_u32(p + "expert_used_count", static_cast<uint32_t>(c.num_experts_per_tok));
    w.add_f32(p + "expert_weights_scale", static_cast<float>(c.routed_scaling_factor));
    w.add_bool(p + "expert_weights_norm", c.norm_topk_prob);
    w.add_u32(p + "expert_gating_func", c.scoring_func == ScoringFunc::Sigmoid ? kGatingSigmoid : kGatingSoftmax);
    if (c.topk_method != TopkMethod::Greedy) {
      w.add_u32(p + "expert_group_count", static_cast<uint32_t>(c.n_group));
      w.add_u32(p + "expert_group_used_count", static_cast<uint32_t>(c.topk_group));
    }
  }
  if (c.rope_scaling) {
    const RopeScaling& y = *c.rope_scaling;
    if (y.mscale_all_dim != 0 && y.mscale != y.mscale_all_dim)
      fail("convert: YaRN mscale ", y.mscale, " != mscale_all_dim ", y.mscale_all_dim,
           " cannot be expressed in GGUF (llama.cpp assumes they are equal)");
    if (y.mscale_all_dim == 0 && y.mscale != 1)
      fail("convert: YaRN mscale ", y.mscale, " without mscale_all_dim cannot be expressed in GGUF");
    w.add_string(p + "rope.scaling.type", "yarn");
    w.add_f32(p + "rope.scaling.factor", static_cast<float>(y.factor));
    w.add_u32(p + "rope.scaling.original_context_length", static_cast<uint32_t>(y.original_max_position_embeddings));
    w.add_f32(p + "rope.scaling.yarn_beta_fast", static_cast<float>(y.beta_fast));
    w.add_f32(p + "rope.scaling.yarn_beta_slow", static_cast<float>(y.beta_slow));
    if (y.mscale_all_dim != 0) w.add_f32(p + "rope.scaling.yarn_log_multiplier", static_cast<float>(0.1 * y.mscale_all_dim));
  }
}

// llama.h llama_ftype of a file whose matrices are all `t`; a K-quant alone is its "_S" (small) mix.
uint32_t gguf_file_type(DType t) {
  switch (t) {
    case DType::F32: return 0;
    case DType::F16: return 1;
    case DType::Q4_0: return 2;
    case DType::Q4_1: return 3;
    case DType::Q8_0: return 7;
    case DType::Q5_0: return 8;
    case DType::Q5_1: return 9;
    case DType::Q2_K: return 10;
    case DType::Q3_K: return 11;
    case DType::Q4_K: return 14;
    case DType::Q5_K: return 16;
    case DType::Q6_K: return 18;
    case DType::IQ4_NL: return 25;
    case DType::IQ4_XS: return 30;
    default: return 32;  // MOSTLY_BF16
  }
}

}  // namespace mla
