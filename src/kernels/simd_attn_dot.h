// Absorbed-MLA decode attention over a bf16 cache on AVX512_BF16 `vdpbf16ps`, heads in lanes: the
// dot-product twins of attn_scores_lanes_bf16 / attn_accumulate_lanes_bf16 (simd.h), which widen
// every cached value to f32 and spend one FMA per value and head lane. One `vdpbf16ps` multiplies two
// dims (scores) or two rows (P·V) for 16 heads, so the multiply-adds run at twice the f32 FMA rate.
// The price is one rounding to bf16 of each query value (times the softmax scale) and of each
// softmax weight, as the prefill's flash attention rounds them (docs/KERNELS.md section 9).
// Callable only where avx512_bf16_cpu() holds (simd_panel.h). "dot2(a, b)" below: the f32 sum
// a.lo * b.lo + a.hi * b.hi of two dwords that each hold two bf16 values, the lower one in the low half.
#pragma once
#include <cstdint>

namespace mla::simd {

// One lane group of 16 query heads against n keys k_j = k + j * stride (bf16 values):
//   s[j * 16 + h] = sum_{i < (d_k + 1) / 2} dot2(qp[i * 16 + h], (k_j[2 i], k_j[2 i + 1]))
// qp: the heads' queries as bf16 pairs, 64-byte aligned (an odd d_k's last pair with a zero high
// half, whose partner dim is then never read). pf: the n rows one sub-block on, prefetched, or nullptr.
void attn_scores_lanes_dot(const uint32_t* qp, int64_t d_k, const uint16_t* k, int64_t stride, int64_t n, float* s,
                           const uint16_t* pf);

// The softmax weights of one lane group, p = [n x 16] f32, as bf16 pairs of rows:
//   pp[j * 16 + h] = (bf16(p[2 j][h]), bf16(p[2 j + 1][h])) for j < (n + 1) / 2, a missing row 2 j + 1 zero.
void attn_weight_pairs(const float* p, int64_t n, uint32_t* pp);

// P·V for `groups` lane groups at once, on transposed accumulators acc_t = [groups x d_v x 16]
// (64-byte aligned), with the value rows v_j = rows[j] + offset (bf16 values), j < n:
//   acc_t[(g * d_v + d) * 16 + h] += sum_{j < pairs} dot2(pp[(g * pairs + j) * 16 + h], (v_{2 j}[d], v_{2 j + 1}[d]))
// pairs = (n + 1) / 2, a missing row 2 j + 1 zero. Every 32 dims of the rows are interleaved by
// pairs of rows into `tile` (pairs x 32 dwords, 64-byte aligned, stays in L1) once for all groups;
// then each group keeps 16 dims in registers while the pairs pass, one pp vector feeding 16 of them.
void attn_accumulate_lanes_dot(const uint32_t* pp, int64_t groups, const uint8_t* const* rows, int64_t offset,
                               int64_t n, int64_t d_v, uint32_t* tile, float* acc_t);

}  // namespace mla::simd
