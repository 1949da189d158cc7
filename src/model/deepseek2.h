// DeepSeek-V2 / V2-Lite / V3 / R1 (`DeepseekV2ForCausalLM`, `DeepseekV3ForCausalLM`): MLA attention
// plus DeepSeekMoE feed-forward layers, loaded from a Hugging Face model directory.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/matrix.h"
#include "kv/kv_cache.h"
#include "model/weight_source.h"
#include "model/config.h"
#include "model/model.h"
#include "model/mla_attention.h"
#include "model/moe_router.h"
#include "model/rope.h"
#include "model/routed_experts.h"
#include "model/swiglu.h"

namespace mla {

struct MoeWeights {
  Matrix gate;                      // router [n_routed_experts x hidden]
  std::vector<float> score_bias;    // e_score_correction_bias [n_routed_experts] (V3), else empty
  RoutedExperts routed;             // all n_routed_experts, or this rank's share under an expert split
  std::optional<MlpWeights> shared_experts;  // moe_intermediate_size * n_shared_experts wide
};

struct AttnWeights {
  std::optional<Matrix> q_proj;    // [H*(nope+rope) x hidden]      when q_lora_rank is null
  std::optional<Matrix> q_a_proj;  // [q_lora_rank x hidden]        otherwise
  std::vector<float> q_a_layernorm;  // [q_lora_rank]
  std::optional<Matrix> q_b_proj;  // [H*(nope+rope) x q_lora_rank]
  Matrix kv_a_proj_with_mqa;       // [kv_lora_rank + rope x hidden]
  std::vector<float> kv_a_layernorm;  // [kv_lora_rank]
  Matrix kv_b_proj;                // [H*(nope+v) x kv_lora_rank]
  Matrix o_proj;                   // [hidden x H*v]
};

struct LayerWeights {
  std::vector<float> input_layernorm, post_attention_layernorm;  // [hidden]
  AttnWeights attn;
  std::optional<MlpWeights> mlp;  // dense layers
  std::optional<MoeWeights> moe;  // MoE layers
};

class DeepseekModel : public Model {
 public:
  DeepseekModel(ModelConfig cfg, std::unique_ptr<WeightSource> weights, ThreadPool& pool,
                const LoadProgress& progress = {}, const Stage& stage = {});

  const ModelConfig& config() const override { return cfg_; }
  const ParamCounts& params() const override { return params_; }
  // The cache row is [c_kv ; k_pe]: kv_lora_rank + qk_rope_head_dim values per token per layer.
  int64_t cache_row_width() const override;
  void forward(std::span<const int32_t> tokens, KvCache& cache, AttnMode mode, bool all_logits,
               float* logits) override;
  void decode_batch(std::span<const int32_t> tokens, std::span<KvCache* const> caches, AttnMode mode,
                    float* logits) override;
  AttnMode resolve_attn(AttnMode mode, int64_t T, int64_t p0) const override {
    return resolve_attn_mode(mode, attn_shape(), T, p0);
  }
  MlaShape attn_shape() const;

 private:
  void forward_rows(std::span<const int32_t> tokens, std::span<const SeqRows> seqs, AttnMode mode, bool all_logits,
                    float* logits);
  void attention(int64_t layer, int64_t T, std::span<const SeqRows> seqs, AttnMode mode);
  void mlp(const MlpWeights& w, const float* x, int64_t T, float* out);
  void moe(int64_t layer, const MoeWeights& w, int64_t T);  // layer: absolute index

  ModelConfig cfg_;
  std::unique_ptr<WeightSource> weights_;
  ThreadPool& pool_;
  Matrix embed_tokens_;  // [vocab x hidden]
  std::vector<LayerWeights> layers_;  // this stage's layers: layers_[0] is stage_.layer_begin
  std::vector<float> norm_;  // [hidden]
  Matrix lm_head_;           // [vocab x hidden]
  Rope rope_;
  MoeRouter router_;
  MlaAttention attn_;
  ParamCounts params_;
  std::vector<std::unique_ptr<uint8_t[]>> realigned_;  // copies of tensors stored misaligned

  // Activations for one chunk of T tokens, grown on demand and reused.
  struct Workspace {
    std::vector<float> x, xn, q_a, q, kv_a, attn_out, proj, mlp_out, router_logits;
    SwigluScratch mlp;
    RoutedScratch routed;
    std::vector<float> rope_cos, rope_sin;  // [T x rope/2] for each row's position
    std::vector<int32_t> expert_ids;
    std::vector<float> expert_weights;
  } ws_;
};

}  // namespace mla
