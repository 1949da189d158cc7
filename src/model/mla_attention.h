// Multi-head Latent Attention over the latent cache, two ways (DeepSeek-V2 paper sec. 2.1.2-2.1.3):
//
//  naive:    re-expand every cached latent through kv_b_proj into per-head keys and values,
//            k_h = [W_UK_h c_kv ; k_pe], v_h = W_UV_h c_kv, then ordinary multi-head attention.
//  absorbed: fold W_UK into the query (q_lat_h = W_UK_h^T q_nope_h) and W_UV into the output
//            (o_h = W_UV_h o_lat_h), and attend over the cache rows directly: an MQA whose keys are
//            the whole row [c_kv ; k_pe] (kv_lora_rank + rope wide) and whose values are its c_kv
//            prefix (kv_lora_rank wide).
//
// Both read only the cache; they agree to rounding. kv_b_proj rows per head h are
// [h*(nope+v), h*(nope+v)+nope) = W_UK_h ([nope x kv_lora]) then v rows = W_UV_h ([v x kv_lora]).
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/matrix.h"
#include "kernels/attention.h"
#include "kernels/flash_prefill.h"
#include "kv/kv_cache.h"

namespace mla {

enum class AttnMode { Naive, Absorbed, Auto };
AttnMode parse_attn_mode(std::string_view s);  // "naive" | "absorbed" | "auto"
const char* attn_mode_name(AttnMode m);

struct MlaShape {
  int64_t n_head, qk_nope_head_dim, qk_rope_head_dim, v_head_dim, kv_lora_rank;
  float softmax_scale;
};

// (query, key) pairs of T queries at positions [p0, p0+T) under the causal mask.
inline double causal_pairs(int64_t T, int64_t p0) { return static_cast<double>(T) * p0 + T * (T + 1) / 2.0; }
// Multiply-adds each path spends on T queries at positions [p0, p0+T) of one layer.
double mla_attention_flops(AttnMode m, const MlaShape& s, int64_t T, int64_t p0);
// Auto: the cheaper path by that count (prefill expands once and reuses; decode absorbs).
AttnMode resolve_attn_mode(AttnMode m, const MlaShape& s, int64_t T, int64_t p0);

class MlaAttention {
 public:
  // q:   [T x n_head x (nope + rope)], q_pe already rotated for positions p0 + t
  // out: [T x n_head x v_head_dim]
  // The cache rows of `layer` for positions [0, p0 + T) must be filled; query t sees [0, p0 + t].
  void run(AttnMode mode, ThreadPool& pool, const MlaShape& s, const Matrix& kv_b_proj, const KvCache& cache,
           int64_t layer, const float* q, int64_t T, int64_t p0, float* out);

 private:
  void naive(ThreadPool& pool, const MlaShape& s, const Matrix& kv_b_proj, const KvCache& cache, int64_t layer,
             const float* q, int64_t T, int64_t p0, float* out);
  // naive with the attention on bf16 dot products (kernels/flash_prefill.h), where the CPU has them.
  void naive_flash(ThreadPool& pool, const MlaShape& s, const Matrix& kv_b_proj, const KvCache& cache, int64_t layer,
                   const float* q, int64_t T, int64_t p0, float* out);
  void absorbed(ThreadPool& pool, const MlaShape& s, const Matrix& kv_b_proj, const KvCache& cache, int64_t layer,
                const float* q, int64_t T, int64_t p0, float* out);

  // Scratch reused across calls (grown, never shrunk).
  std::vector<float> cached_, latent_, expanded_, block_rows_, q_cat_, o_lat_, q_heads_;
  std::vector<uint16_t> k_heads_, vt_heads_;  // naive_flash: per head [nb x (nope + rope)], [v x nb]
  AttnState state_;
  std::vector<FlashHeadState> flash_;
};

}  // namespace mla
