// Tiny model configs shared by the model-level tests (random weights from model/random_weights.h).
#pragma once
#include "model/config.h"

namespace mla::testing {

// DeepSeek-V3 layout (q_lora, MoE with sigmoid routing and groups) at toy sizes.
inline ModelConfig tiny_deepseek_v3() {
  ModelConfig c;
  c.architecture = "DeepseekV3ForCausalLM";
  c.vocab_size = 97;
  c.hidden_size = 48;
  c.intermediate_size = 64;
  c.moe_intermediate_size = 16;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 3;
  c.max_position_embeddings = 64;
  c.q_lora_rank = 24;
  c.kv_lora_rank = 32;
  c.qk_nope_head_dim = 16;
  c.qk_rope_head_dim = 8;
  c.v_head_dim = 12;
  c.n_routed_experts = 8;
  c.n_shared_experts = 1;
  c.num_experts_per_tok = 2;
  c.first_k_dense_replace = 1;
  c.scoring_func = ScoringFunc::Sigmoid;
  c.topk_method = TopkMethod::NoauxTc;
  c.n_group = 2;
  c.topk_group = 1;
  c.norm_topk_prob = true;
  c.routed_scaling_factor = 2.5;
  return c;
}

// Llama with n_head query heads over n_head_kv K/V heads (MHA, GQA, MQA); llama3 rope scaling optional.
inline ModelConfig tiny_llama(int64_t n_head, int64_t n_head_kv, bool tied = false, bool llama3 = false) {
  ModelConfig c;
  c.architecture = "LlamaForCausalLM";
  c.model_type = "llama";
  c.vocab_size = 101;
  c.hidden_size = 48;
  c.intermediate_size = 80;
  c.num_hidden_layers = 2;
  c.num_attention_heads = n_head;
  c.num_key_value_heads = n_head_kv;
  c.head_dim = 16;  // != hidden / heads on purpose
  c.max_position_embeddings = 512;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 500.0;  // low theta: positions matter within a short test
  c.tie_word_embeddings = tied;
  if (llama3) {
    RopeScaling s;
    s.type = RopeType::Llama3;
    s.factor = 8;
    s.low_freq_factor = 1;
    s.high_freq_factor = 4;
    s.original_max_position_embeddings = 64;
    c.rope_scaling = s;
  }
  return c;
}

}  // namespace mla::testing

