// Small model configurations shared by the tests (shapes chosen so every code path runs: q_lora,
// MoE with groups and a dense first layer, distinct head dims).
#pragma once
#include "model/config.h"

namespace mla::testing {

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

}  // namespace mla::testing
