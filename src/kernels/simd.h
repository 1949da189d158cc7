// Explicit AVX-512 kernels behind matmul.cpp and attention.cpp (internal to src/kernels). Every
// function here is compiled for AVX-512 (F, BW, VL, FMA, F16C) only and may be called only when
// avx512_cpu() is true; the portable twins live beside their callers and the plain scalar
// oracles in reference.h. Arithmetic on activations is f32 (weights are widened to f32), except in
// the *_vnni gemv kernels, which quantize the activation to int8 blocks (bound stated below).
#pragma once
#include <cstdint>

namespace mla::simd {

// The CPU has everything these kernels use (checked once, at first call).
bool avx512_cpu();
// ... and AVX512_VNNI as well, for the integer decode gemv below.
bool avx512_vnni_cpu();

// y[r] = W[r] · x for r in [0, rows): W row r at w + r * stride (elements), cols wide.
// One sequential row stream per thread with software prefetch (see simd_avx512.cpp for why not
// several rows per step).
void gemv_bf16(const uint16_t* w, int64_t stride, int64_t rows, int64_t cols, const float* x, float* y);
void gemv_f16(const uint16_t* w, int64_t stride, int64_t rows, int64_t cols, const float* x, float* y);
void gemv_f32(const float* w, int64_t stride, int64_t rows, int64_t cols, const float* x, float* y);
// The GGUF block formats: W row r at w + r * stride (bytes), cols (a multiple of 32) wide. Blocks
// are widened to f32 in registers; each block's q·x is scaled by its d once.
void gemv_q8_0(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const float* x, float* y);
void gemv_q4_0(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const float* x, float* y);

// Decode gemv with integer dot products (as ggml's ggml_vec_dot_q4_0_q8_0 / _q8_0_q8_0 on x86):
// the activation x is quantized once per matmul call to Q8_0-style blocks (f32 d_x = max|x|/127
// per 32 values, int8 q_x = round(x / d_x), so |x - d_x q_x| <= d_x / 2), then every weight block
// is one `vpdpbusd` against q_x and one f32 FMA with d_w * d_x. Only when avx512_vnni_cpu().
// vpdpbusd multiplies unsigned by signed bytes: Q4_0 weights enter as their nibbles u = q + 8 and
// Q8_0 weights as u = q + 128 (sign bit flipped), and the accumulator starts at -8 (or -128) times
// the sum of q_x, so sum u q_x - off sum q_x = sum q q_x exactly in int32.
// IQ4_NL shares Q4_0's block and nibble order: its codes are looked up as level + 128 (offset 128).
// XQuant is the prepared x for one weight format: bytes for xq_bytes(cols), filled by quantize_x.
enum class XQuant { ForQ4_0, ForIQ4_NL, ForQ8_0 };
int64_t xq_bytes(int64_t cols);
void quantize_x(XQuant f, const float* x, int64_t cols, uint8_t* xq);
void gemv_q8_0_vnni(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* xq, float* y);
void gemv_q4_0_vnni(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* xq, float* y);
void gemv_iq4_nl_vnni(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* xq, float* y);

// Row conversions to f32.
void bf16_to_f32(const uint16_t* in, float* out, int64_t n);
void f16_to_f32(const uint16_t* in, float* out, int64_t n);
// n (a multiple of 32) values of a Q8_0 / Q4_0 row.
void q8_0_to_f32(const uint8_t* in, float* out, int64_t n);
void q4_0_to_f32(const uint8_t* in, float* out, int64_t n);
// out[i] = scale * e4m3(codes[i]) for i < n, bit for bit the table's value times scale (codes 0x7f /
// 0xff are NaN): each code shifted into an f16 (e4m3 times 2^-8, subnormals included), widened by
// vcvtph2ps, times scale * 2^8.
void fp8_e4m3_to_f32(const uint8_t* codes, float scale, float* out, int64_t n);

float dot_f32(const float* a, const float* b, int64_t n);
void axpy_f32(float alpha, const float* x, float* y, int64_t n);
void axpy_bf16(float alpha, const uint16_t* x, float* y, int64_t n);  // y += alpha * x, x widened in registers

// Register-blocked product of a decoded weight tile with a batch of inputs:
//   Y[i * ldy + r] = T[r * ldt + 0 .. K) · X[i * ldx + 0 .. K)   for r < nr, i < n
// T rows must be zero-padded up to ldt (a multiple of 16) and nr rounded up to 4 rows may be read:
// T must hold round_up(nr, 4) rows. Micro-kernel: 4 weight rows x 6 inputs (24 zmm accumulators).
void gemm_tile(const float* T, int64_t ldt, int64_t nr, int64_t K, const float* X, int64_t ldx, int64_t n, float* Y,
               int64_t ldy);

// Attention: scores[h * ld + j] = scale * q[h * d_k ..] · k_j for h < G, j < n, with k_j = k + j * stride.
// Micro-kernel: 4 heads x 4 keys (16 accumulators; each key load feeds 4 heads, each q load 4 keys),
// the 16 sums reduced together; every 4 keys meet all G heads while they are in L1.
void attn_scores(const float* q, int64_t G, int64_t d_k, const float* k, int64_t stride, int64_t n, float scale,
                 float* scores, int64_t ld);
// The same over bf16 / f16 rows (stride in 16-bit values), widened to f32 in registers: a 16-bit
// cache is read in place, at half the bytes, with no f32 copy.
void attn_scores_bf16(const float* q, int64_t G, int64_t d_k, const uint16_t* k, int64_t stride, int64_t n, float scale,
                      float* scores, int64_t ld);
void attn_scores_f16(const float* q, int64_t G, int64_t d_k, const uint16_t* k, int64_t stride, int64_t n, float scale,
                     float* scores, int64_t ld);
// Heads in lanes, for 16 or more query heads sharing each key row (absorbed MLA): one lane group of
// 16 heads, qt = [d_k x 16] (q transposed, the scale folded in, 64-byte aligned), s = [n x 16]:
// s[j * 16 + h] = qt[., h] · k_j. Each q vector feeds up to 16 keys and each key value is a
// broadcast, so there are no horizontal sums (unlike attn_scores) and the softmax runs on whole
// vectors. pf: the rows one step on, prefetched while these are scored (nullptr: none).
void attn_scores_lanes(const float* qt, int64_t d_k, const float* k, int64_t stride, int64_t n, float* s,
                       const float* pf);
void attn_scores_lanes_bf16(const float* qt, int64_t d_k, const uint16_t* k, int64_t stride, int64_t n, float* s,
                            const uint16_t* pf);
// The online softmax of attn_softmax for one lane group (`heads` <= 16 live lanes) of s = [n x 16]:
// m[h], l[h] updated, s replaced by the weights, c[h] = the factor head h's values must be scaled by.
// bf16_weights: each weight rounded to bf16 before it is stored and summed, so that l sums exactly
// the weights P·V multiplies by when it rounds them (simd_attn_dot.h): the output stays a convex
// combination of the values.
void attn_softmax_lanes(float* s, int64_t n, int64_t heads, float* m, float* l, float* c, bool bf16_weights = false);
// P·V for one lane group over bf16 rows, the accumulator transposed: acc_t[d * 16 + h] +=
// sum_j p[j * 16 + h] * v_j[d] (v_j = rows[j] + offset, in values). Blocks of 16 dims stay in registers
// while the rows pass, as attn_scores_lanes_bf16 (measured faster than attn_accumulate_bf16 there).
void attn_accumulate_lanes_bf16(const float* p, int64_t n, const uint8_t* const* rows, int64_t offset, int64_t d_v,
                                float* acc_t);
// acc_t[d * 16 + h] *= c[h] for d < d_v (acc_t 64-byte aligned).
void scale_lanes(float* acc_t, int64_t d_v, const float* c);
// acc[h * d_v + d] += sum_j p[h * ph + j * pj] * v_j[d] for h < G, j < n, where v_j starts at value
// `offset` of rows[j] (float, or uint16_t for bf16 / f16): rows from anywhere (paged cache blocks or a
// decoded tile) in one call. (ph, pj) = (ld, 1) for attn_scores' layout, (1, 16) for a lane group's.
// Micro-kernel: 4 heads x 64 dims (16 accumulators; each value load feeds 4 heads); every 64-dim
// slice of the n value rows meets all G heads while it is in L1.
void attn_accumulate(const float* p, int64_t ph, int64_t pj, int64_t G, const uint8_t* const* rows, int64_t offset,
                     int64_t n, int64_t d_v, float* acc);
void attn_accumulate_bf16(const float* p, int64_t ph, int64_t pj, int64_t G, const uint8_t* const* rows,
                          int64_t offset, int64_t n, int64_t d_v, float* acc);
void attn_accumulate_f16(const float* p, int64_t ph, int64_t pj, int64_t G, const uint8_t* const* rows,
                         int64_t offset, int64_t n, int64_t d_v, float* acc);
// Heads in lanes where every query head has its own key / value slice of the row (MHA, and GQA with
// fewer than 16 query heads per kv head), for one lane group of 16 query heads: q = [16 x d_k] (row i:
// head i's query times the scale; rows past the group's live heads zero), head i's key in row j at
// value k_off[i] of rows[j]: s[j * 16 + i] = q_i · k_{j,i}. For BF16 rows each full 32-dim block of
// q_i is stored as its 16 even dims, then its 16 odd dims (a row's 32 bf16 values split by parity in
// registers, without a cross-lane widening); the rest of q_i in order. Rows are walked one at a time and whole
// (every head's slice in turn), so a thread streams its cache rows in order; a row's 16 sums are
// reduced together (reduce16). rows[] lists n_listed >= n rows: the row 4 on from the one being
// scored is prefetched whole (row_bytes, V included) into L2 for attn_accumulate_heads.
enum class RowType { F32, BF16, F16 };
void attn_scores_heads(RowType t, const float* q, const int64_t* k_off, int64_t d_k, const uint8_t* const* rows,
                       int64_t n, int64_t n_listed, int64_t row_bytes, float* s);
// acc[i * d_v + d] += sum_j p[j * 16 + i] * v_{j,i}[d] for i < heads, j < n: head i's value in row j
// at value v_off[i] of rows[j]; p = [n x 16] as attn_scores_heads / attn_softmax_lanes leave it.
void attn_accumulate_heads(RowType t, const float* p, int64_t heads, const int64_t* v_off, const uint8_t* const* rows,
                           int64_t n, int64_t d_v, float* acc);
// One block of the online softmax for one head: with m the running maximum and l the running sum,
// m' = max(m, s[0..n)), s[j] = e^(s[j] - m'), l = l e^(m - m') + sum s, m = m'; returns e^(m - m'),
// the factor the head's accumulated values must be scaled by. exp by a polynomial (rel. error ~2e-7).
float attn_softmax(float* s, int64_t n, float* m, float* l);
// x[n] *= c
void scale_f32(float* x, int64_t n, float c);

}  // namespace mla::simd
