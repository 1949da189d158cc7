// Decode (n = 1) matrix-vector products for ggml's K-quant, IQ4, legacy 32-value and lattice i-quant block formats on
// AVX512_VNNI integer dot products (internal to src/kernels; matmul.cpp dispatches here). Callable
// only when avx512_vnni_cpu() (simd.h). Layouts and value formulas: quants/block_formats.h and the
// scalar decoders in quants/dequantize.cpp, which tests/quant_gemv_test.cpp compares these against.
//
// The activation. x is quantized once per call exactly as panel::round_activations rounds it: per
// 32 values d_x = max|x| / 127, q_x = round-to-nearest-even(x * (127 / max|x|)) (int8), so decode,
// prefill and batched products see the same x' = d_x q_x. prepare_x8 stores, for values padded with
// zeros up to a multiple of 64:
//   q[cols_pad]        int8 q_x in natural value order;
//   dxl[cols_pad / 4]  f32: lane l of a 64-value chunk holds d_x of values 4l..4l+3 (one vpdpbusd
//                      lane), i.e. each block's d_x repeated 8 times;
//   sum16[cols_pad/16] f32: d_x * sum of q_x over values 16k..16k+15;
//   sum32[cols_pad/32] f32: d_x * sum of q_x over values 32k..32k+31;
//   dx16[cols_pad/16]  f32: d_x of values 16k..16k+15 (kernels with one scale vector per super-block
//                      multiply it in once there, saving one multiply per chunk).
//
// The weights. Every format here can say, per sub-block j of 16 or 32 values,
//   w_i = a_j * u_i + c_j       (u_i an unsigned byte code, a_j and c_j f32 per sub-block),
// so row · x' = sum_j a_j (u · q_x)_j d_x + sum_j c_j sum_j(x'). A 64-value chunk of a row decodes
// in registers to 64 bytes u in natural order; one `vpdpbusd` against q_x gives 16 int32 lanes of 4
// products each (exact); they are converted and multiplied by each lane's a_j d_x with one FMA
// (a_j spread to the lanes by one vpermps, times the dxl vector; the K-quants, IQ4_XS and the
// lattice i-quants multiply a_j by dx16 once per super-block instead, before the vpermps).
// The constant terms c_j (K-quant mins `-dmin * m`, Q6_K's -32 a_j, Q3_K's -4 a_j, IQ4's
// u = value + 128 so -128 a_j, Q5_0's -16, Q4_1 / Q5_1's m) are one FMA per super-block (per 4 blocks for the legacy formats) of c against
// the precomputed sum16 / sum32 of x. Per format (a_j from the format's scales; u):
//   Q4_K  a = d sc_j (32), c = -dmin m_j;   u = nibble          Q5_K  the same, u = nibble | bit << 4
//   Q6_K  a = d sc_j (16), c = -32 a;       u = 6-bit value     Q3_K  a = d (sc_j - 32) (16), c = -4 a; u = 3-bit
//   Q2_K  a = d sc_j (16), c = -dmin m_j;   u = 2-bit value     IQ4_XS a = d (ls_j - 32) (32), c = -128 a; u = table + 128
//   Q4_1  a = d (32), c = m;  Q5_0 a = d, c = -16 d;  Q5_1 a = d, c = m;  IQ4_NL a = d, c = -128 d
// The lattice i-quants (simd_iquants.cpp) take u from their grid tables (one entry per 8 or 4 values)
// and put the signs on q_x (w_i = a_j u_i sign_i, so u · (sign q_x)), c = 0; IQ1 entries are -1/0/1:
//   IQ2_XXS a = d (2s+1) / 8 (32)   IQ2_XS / IQ2_S the same per 16   IQ3_XXS a = d (2s+1) / 4 (32)
//   IQ3_S a = d (2s+1) (32)         u = grid magnitudes; signs from the 7-bit codes (+ parity) or raw bytes
//   IQ1_S a = d (2s+1) (32), c = a (delta - 1), u = entry + 1
//   IQ1_M a = d (2s+1) / 8 (16), c = -9 a, u = 8 (entry + 1) + 1 + 8 delta (delta = +-1/8 per 8 values)
// Error: the integer part is exact, so |y - W x'| is f32 rounding of the scales and sums only
// (tests: 1e-5 of sum |w x'|); |W x' - W x| <= sum_c |W[r][c]| d_x(c) / 2 as for Q8_0 / Q4_0.
#pragma once
#include <cstdint>

namespace mla::simd {

// Bytes prepare_x8 writes for a row of cols values (cols % 32 == 0).
int64_t x8_bytes(int64_t cols);
void prepare_x8(const float* x, int64_t cols, uint8_t* x8);

// y[r] = W[r] · x' for r < rows: row r at w + r * stride (bytes), cols values (a multiple of the
// format's block), x8 from prepare_x8.
void gemv_q4_k(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y);
void gemv_q6_k(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y);
void gemv_q5_k(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y);
void gemv_q3_k(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y);
void gemv_q2_k(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y);
void gemv_iq4_xs(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y);
void gemv_q4_1(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y);
void gemv_q5_0(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y);
void gemv_q5_1(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y);
// The lattice i-quants (simd_iquants.cpp).
void gemv_iq3_xxs(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y);
void gemv_iq3_s(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y);
void gemv_iq2_xxs(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y);
void gemv_iq2_xs(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y);
void gemv_iq2_s(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y);
void gemv_iq1_s(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y);
void gemv_iq1_m(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y);
// AVX512_VBMI twins of those with 256- or 512-entry grids (the grid from in-register tables,
// simd_iquants.cpp): callable only when avx512_vbmi_cpu(); the same numbers as the kernels above.
bool avx512_vbmi_cpu();
void gemv_iq2_xxs_vbmi(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y);
void gemv_iq2_xs_vbmi(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y);
void gemv_iq3_xxs_vbmi(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y);
void gemv_iq3_s_vbmi(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y);

}  // namespace mla::simd
