// Llama (`LlamaForCausalLM`: Llama 2, 3, 3.1+ and models that share its layout): pre-norm decoder
// layers of RoPE attention and a SwiGLU MLP. Its attention is MHA, GQA or MQA by num_key_value_heads
// (n_head_kv = n_head, a divisor, or 1), run on the same attention core and KV cache as MLA, so the
// variants can be compared on equal terms.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/attention.h"
#include "kernels/matrix.h"
#include "kv/kv_cache.h"
#include "model/config.h"
#include "model/model.h"
#include "model/swiglu.h"
#include "model/weight_source.h"

namespace mla {

// RoPE inverse frequencies as Hugging Face Llama computes them: theta^(-2i/d) for the pairs
// i < d/2 of a head_dim-wide head, then llama3 rope_scaling when set
// (`_compute_llama3_parameters`). [head_dim / 2]
std::vector<double> llama_rope_inv_freq(const ModelConfig& cfg);

struct LlamaLayerWeights {
  std::vector<float> input_layernorm, post_attention_layernorm;  // [hidden]
  Matrix q_proj;  // [n_head * head_dim x hidden]
  Matrix k_proj;  // [n_head_kv * head_dim x hidden]
  Matrix v_proj;  // [n_head_kv * head_dim x hidden]
  Matrix o_proj;  // [hidden x n_head * head_dim]
  MlpWeights mlp;
};

class LlamaModel : public Model {
 public:
  LlamaModel(ModelConfig cfg, std::unique_ptr<WeightSource> weights, ThreadPool& pool,
             const LoadProgress& progress = {}, const Stage& stage = {});

  const ModelConfig& config() const override { return cfg_; }
  const ParamCounts& params() const override { return params_; }
  // The cache row is [K (n_head_kv x head_dim) ; V (n_head_kv x head_dim)], keys already rotated.
  int64_t cache_row_width() const override;
  // `mode` (the MLA attention path) does not apply and is ignored.
  void forward(std::span<const int32_t> tokens, KvCache& cache, AttnMode mode, bool all_logits,
               float* logits) override;
  void decode_batch(std::span<const int32_t> tokens, std::span<KvCache* const> caches, AttnMode mode,
                    float* logits) override;

  // (n_head, n_head_kv, head_dim, head_dim), scale 1/sqrt(head_dim).
  AttnShape attn_shape() const;

 private:
  void forward_rows(std::span<const int32_t> tokens, std::span<const SeqRows> seqs, bool all_logits, float* logits);
  void attention(int64_t layer, int64_t T, std::span<const SeqRows> seqs);

  ModelConfig cfg_;
  std::unique_ptr<WeightSource> weights_;
  ThreadPool& pool_;
  Matrix embed_tokens_;  // [vocab x hidden]
  std::vector<LlamaLayerWeights> layers_;  // this stage's layers: layers_[0] is stage_.layer_begin
  std::vector<float> norm_;  // [hidden]
  Matrix lm_head_;           // [vocab x hidden]; embed_tokens_ when tie_word_embeddings
  std::vector<double> inv_freq_;  // [head_dim / 2]
  ParamCounts params_;
  std::vector<std::unique_ptr<uint8_t[]>> realigned_;  // copies of tensors stored misaligned

  // Activations for one chunk of T rows, grown on demand and reused.
  struct Workspace {
    std::vector<float> x, xn, q, k, v, attn_out, proj, mlp_out, cache_row;
    std::vector<float> rope_cos, rope_sin;  // [T x head_dim/2] for each row's position
    SwigluScratch mlp;
    AttnState attn;
  } ws_;
};

}  // namespace mla
