// The one attention core every variant runs on: n_head queries attend over cache rows through
// n_head_kv key/value heads (query head h reads kv head h / (n_head / n_head_kv)), parameterised by
// (n_head, n_head_kv, d_k, d_v):
//   MHA   n_head_kv = n_head            GQA  1 < n_head_kv < n_head        MQA  n_head_kv = 1
//   MLA absorbed: MQA with d_k = kv_lora_rank + rope and d_v = kv_lora_rank, V a prefix view of K.
// Keys are folded in blocks into a running softmax (max, sum, weighted values) per (query, head), so
// a caller can stream keys it produces block by block (naive MLA expands them from the latent).
#pragma once
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"

namespace mla {

struct AttnShape {
  int64_t n_head, n_head_kv, d_k, d_v;
  float scale;  // multiplies q·k before the softmax
};

// Where token j's key and value for kv head g live:
//   K = base + j * row_stride + k_offset + g * k_head_stride   (d_k floats)
//   V = base + j * row_stride + v_offset + g * v_head_stride   (d_v floats)
struct KvLayout {
  const float* base;
  int64_t row_stride;
  int64_t k_offset, k_head_stride;
  int64_t v_offset, v_head_stride;
};

// Running softmax of T x n_head queries.
struct AttnState {
  std::vector<float> max, sum, acc;  // [T*H], [T*H], [T*H x d_v]
  std::vector<float> part_max, part_sum, part_acc;  // per work item, merged into the above
  void reset(int64_t T, const AttnShape& s);
  // out[T x H x d_v] = acc / sum
  void finish(int64_t T, const AttnShape& s, float* out) const;
};

// Folds the keys of tokens [j0, j1) (rows j - j0 of `kv`) into `st`. Causal: query t (at position
// p0 + t) sees tokens j <= p0 + t. q: [T x H x d_k].
void attend_block(ThreadPool& pool, const AttnShape& s, const float* q, int64_t T, int64_t p0, const KvLayout& kv,
                  int64_t j0, int64_t j1, AttnState& st);

// All tokens [0, p0 + T) in one call: out[T x H x d_v].
void attend(ThreadPool& pool, const AttnShape& s, const float* q, int64_t T, int64_t p0, const KvLayout& kv,
            AttnState& st, float* out);

}  // namespace mla
