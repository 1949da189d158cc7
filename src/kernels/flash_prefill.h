// Prefill attention on the bf16 dot products, flash-attention style (Dao et al. 2022: blocks of keys
// folded into a running softmax per query, so no [T x L] score matrix is ever held), one head and
// one block of keys at a time. The scores of all of a chunk's queries against the block are one
// panel product (kernels/panel_gemm.h: each key tile packed once, reused by every query), the
// online softmax runs per query row, and P·V is a second panel product against the block's values
// transposed. Q, K, P and V enter the products rounded to bf16; sums and the softmax are f32.
// Runs on the calling thread (callers split heads across threads); only where
// kernels_use_bf16_dot() (kernels/matmul.h).
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/matrix.h"

namespace mla {

// Running softmax of one head over T queries: max m[T], sum l[T], weighted values o[T x d_v].
struct FlashHeadState {
  std::vector<float> m, l, o;
  void reset(int64_t T, int64_t d_v);
};

// Folds keys [j0, j0 + K.rows) into st for queries t < T at positions p0 + t (causal: query t sees
// keys at positions <= p0 + t; queries that see none of the block skip it).
//   q:  [T x d_k] this head's queries, f32, contiguous (d_k = K.cols)
//   K:  BF16 [nb x d_k], the block's keys
//   Vt: BF16 [d_v x nbp], the block's values transposed (column j = key j), nbp = nb rounded up to
//       even (a padding column is never weighted)
void flash_fold(const float* q, int64_t T, int64_t p0, const Matrix& K, const Matrix& Vt, int64_t j0, float scale,
                FlashHeadState& st);

// out[t * ldo + d] = o[t][d] / l[t]
void flash_finish(const FlashHeadState& st, int64_t T, int64_t d_v, float* out, int64_t ldo);

}  // namespace mla
