// The AVX-512 micro-kernels and activation preparation behind panel_gemm (internal to src/kernels),
// each compiled for exactly the extensions it uses and callable only when its *_cpu() check holds.
// Layouts: kernels/panel_gemm.h. Scalar twins: panel_gemm.cpp.
#pragma once
#include <cstdint>

namespace mla::simd {

// Bytes per sub-block (`sub` = 32 or 16 values sharing one scale) of an int8 panel (panel_gemm.h):
// u [sub / 4 steps][2 groups][16 lanes x 4], then d [2 groups][16] f32, then with a min m [2][16] f32.
constexpr int64_t int8_sub_bytes(int sub, bool has_min) { return sub * 32 + 128 + (has_min ? 128 : 0); }
constexpr int64_t kInt8BlockBytes = int8_sub_bytes(32, false);  // Q8_0 / Q4_0

// AVX-512 F/BW/VL + FMA + F16C (simd.h) and AVX512_BF16.
bool avx512_bf16_cpu();

// x[n] -> bf16, round to nearest even (vcvtneps2bf16). n even.
void x_to_bf16(const float* x, int64_t n, uint16_t* out);

// Decode twin of panel_bf16 for few inputs: Y[i * ldy + r] = W[r] · x_i for r < rows, i < n, W row r at
// w + r * stride (bytes), cols bf16 values (even), x_i = xb + 2 i cols bytes (x_to_bf16). One
// `vdpbf16ps` per 32 weights and input: exact products summed in f32, the numbers of the panels'
// prefill up to summation order, at a fraction of gemv_bf16's work per byte (widening + FMA on f32
// x); each input's sums are the same operations whatever n (batched = alone, bit for bit).
void gemv_bf16_dot(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* xb, int64_t n, float* y,
                   int64_t ldy);

// Packs dwords [0, steps) of 16 rows (rows[i]: dword 0 of row i, nullptr: a zero row) into
// panel[s * 32 + i] (one group of a bf16 panel, panel_gemm.h): 16 x 16 dword transposes.
void pack_dwords16(const uint8_t* const* rows, int64_t steps, uint32_t* panel);

// One panel (2 groups of 16 weight rows, `steps` dwords of each) against input rows i < n:
//   Y[i * ldy + r] (+)= sum_s dot2(panel[s][r / 16][r % 16], x[i * ldx + s])   for r < live_rows
// (x: bf16 pairs as dwords, ldx in dwords). accumulate: add to Y instead of storing.
void panel_bf16(const uint32_t* panel, int64_t steps, const uint32_t* x, int64_t ldx, int64_t n, float* y,
                int64_t ldy, int64_t live_rows, bool accumulate);

// Packs blocks [b0, b0 + nb) of 16 rows (rows[i]: row i's bytes, nullptr: a zero row) of a Q8_0 /
// Q4_0 / IQ4_NL / Q5_0 matrix into one group of an int8 panel (panel_gemm.h; panel: the group's
// first lane): u bytes (q + 128 / the nibbles / their table values + 128 / nibble + 16 x fifth bit)
// by 16 x 16 dword transposes of two blocks at a time, and d.
void pack_q8_0_16(const uint8_t* const* rows, int64_t b0, int64_t nb, uint8_t* panel);
void pack_q4_0_16(const uint8_t* const* rows, int64_t b0, int64_t nb, uint8_t* panel);
void pack_iq4_nl_16(const uint8_t* const* rows, int64_t b0, int64_t nb, uint8_t* panel);
void pack_q5_0_16(const uint8_t* const* rows, int64_t b0, int64_t nb, uint8_t* panel);
// The same for the 256-value formats whose bytes unpack in a few vector operations (Q2_K, Q3_K,
// Q4_K, Q5_K, Q6_K, IQ4_XS): b0 and nb even. Their sub-blocks are 32 values (16 for Q2_K, Q3_K and
// Q6_K), with a min for Q2_K / Q4_K / Q5_K.
void pack_q2_k_16(const uint8_t* const* rows, int64_t b0, int64_t nb, uint8_t* panel);
void pack_q3_k_16(const uint8_t* const* rows, int64_t b0, int64_t nb, uint8_t* panel);
void pack_q4_k_16(const uint8_t* const* rows, int64_t b0, int64_t nb, uint8_t* panel);
void pack_q5_k_16(const uint8_t* const* rows, int64_t b0, int64_t nb, uint8_t* panel);
void pack_q6_k_16(const uint8_t* const* rows, int64_t b0, int64_t nb, uint8_t* panel);
void pack_iq4_xs_16(const uint8_t* const* rows, int64_t b0, int64_t nb, uint8_t* panel);

// x[cols] (cols % 32 == 0) -> per 32 values q[32] int8, d = max|x| / 127 and s = -off * sum(q) (the
// start of the block's integer sum against weights u = q_w + off). Needs avx512_cpu() only (simd.h).
void quantize_x_blocks(const float* x, int64_t cols, int32_t off, int8_t* q, float* d, int32_t* s);

// Quantized input rows for panel_int8, per sub-block b of row i: d_x of its 32-value block
// d[i * ldd + b], the sum's start s[i * ldd + b] = -off * sum(q_x) and (formats with a min)
// xs[i * ldd + b] = d_x * sum(q_x) over the sub-block; q_x row i at q + i * ldq.
struct Int8PanelX {
  const int8_t* q;
  int64_t ldq;
  const float* d;
  const int32_t* s;
  const float* xs;
  int64_t ldd;
};

// One int8 panel of `subs` sub-blocks of `sub` (32 or 16) values against quantized input rows i < n:
//   Y[i * ldy + r] (+)= sum_b d_w * d_x * (s + u_b · q_x) + m_w * xs      (m_w only if has_min)
// AVX512_VNNI.
void panel_int8(const uint8_t* panel, int64_t subs, int sub, bool has_min, const Int8PanelX& x, int64_t n, float* y,
                int64_t ldy, int64_t live_rows, bool accumulate);

}  // namespace mla::simd
