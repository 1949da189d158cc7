// Binds a DeepSeek checkpoint's tensors (Hugging Face names) to the model's weight views, checking
// every shape against the config. Weights stay in the memory map in their stored dtype.
#include <algorithm>

#include "core/error.h"
#include "model/deepseek2.h"
#include "model/weight_binder.h"

namespace mla {

DeepseekModel::DeepseekModel(ModelConfig cfg, std::unique_ptr<WeightSource> weights, ThreadPool& pool,
                             const LoadProgress& progress, const Stage& stage)
    : cfg_(std::move(cfg)),
      weights_(std::move(weights)),
      pool_(pool),
      rope_(cfg_),
      router_(cfg_) {
  const int64_t hidden = cfg_.hidden_size, H = cfg_.num_attention_heads, nope = cfg_.qk_nope_head_dim,
                rope = cfg_.qk_rope_head_dim, dv = cfg_.v_head_dim, R = cfg_.kv_lora_rank;
  stage_ = stage.resolved(cfg_.num_hidden_layers, cfg_.n_routed_experts.value_or(0));
  const bool last = stage_.last(cfg_.num_hidden_layers);
  WeightBinder b(*weights_, realigned_);
  // A pipeline stage binds only what it computes: the embedding on the first, its own layers, the
  // norm and head on the last; other tensors are never read, so their pages stay on disk.
  if (stage_.first() || (last && cfg_.tie_word_embeddings))
    embed_tokens_ = b.matrix("model.embed_tokens", cfg_.vocab_size, hidden);
  // Layers at index >= num_hidden_layers (DeepSeek-V3's multi-token-prediction module) are not
  // part of next-token inference and are never bound.
  for (int64_t i = stage_.layer_begin; i < stage_.layer_end; ++i) {
    const std::string p = "model.layers." + std::to_string(i);
    LayerWeights L;
    L.input_layernorm = b.vector(p + ".input_layernorm.weight", hidden);
    L.post_attention_layernorm = b.vector(p + ".post_attention_layernorm.weight", hidden);
    AttnWeights& a = L.attn;
    if (cfg_.q_lora_rank) {
      a.q_a_proj = b.matrix(p + ".self_attn.q_a_proj", *cfg_.q_lora_rank, hidden);
      a.q_a_layernorm = b.vector(p + ".self_attn.q_a_layernorm.weight", *cfg_.q_lora_rank);
      a.q_b_proj = b.matrix(p + ".self_attn.q_b_proj", H * (nope + rope), *cfg_.q_lora_rank);
    } else {
      a.q_proj = b.matrix(p + ".self_attn.q_proj", H * (nope + rope), hidden);
    }
    a.kv_a_proj_with_mqa = b.matrix(p + ".self_attn.kv_a_proj_with_mqa", R + rope, hidden);
    a.kv_a_layernorm = b.vector(p + ".self_attn.kv_a_layernorm.weight", R);
    a.kv_b_proj = b.matrix(p + ".self_attn.kv_b_proj", H * (nope + dv), R);
    a.o_proj = b.matrix(p + ".self_attn.o_proj", hidden, H * dv);
    if (cfg_.is_moe_layer(i)) {
      MoeWeights m;
      const int64_t E = *cfg_.n_routed_experts, inter = cfg_.moe_intermediate_size;
      m.gate = b.matrix(p + ".mlp.gate", E, hidden);
      if (cfg_.topk_method == TopkMethod::NoauxTc)
        m.score_bias = b.vector(p + ".mlp.gate.e_score_correction_bias", E);
      m.routed = bind_routed_experts(b, p, stage_.expert_begin, stage_.expert_end, hidden, inter);
      // A token visits num_experts_per_tok of them (under an expert split, of those held here at most).
      const int64_t held = stage_.expert_end - stage_.expert_begin;
      params_.active -= 3 * hidden * inter * std::max<int64_t>(0, held - cfg_.num_experts_per_tok);
      if (cfg_.n_shared_experts > 0)
        m.shared_experts = b.mlp(p + ".mlp.shared_experts", hidden, inter * cfg_.n_shared_experts);
      L.moe = std::move(m);
    } else {
      L.mlp = b.mlp(p + ".mlp", hidden, cfg_.intermediate_size);
    }
    layers_.push_back(std::move(L));
  }
  if (last) {
    norm_ = b.vector("model.norm.weight", hidden);
    lm_head_ = cfg_.tie_word_embeddings ? embed_tokens_ : b.matrix("lm_head", cfg_.vocab_size, hidden);
  }
  params_.total = b.params;
  params_.active += b.params;
  prefault(b.spans, progress);
}

MlaShape DeepseekModel::attn_shape() const {
  return {cfg_.num_attention_heads, cfg_.qk_nope_head_dim, cfg_.qk_rope_head_dim, cfg_.v_head_dim,
          cfg_.kv_lora_rank, static_cast<float>(Rope::softmax_scale(cfg_))};
}

int64_t DeepseekModel::cache_row_width() const { return cfg_.kv_lora_rank + cfg_.qk_rope_head_dim; }

}  // namespace mla
