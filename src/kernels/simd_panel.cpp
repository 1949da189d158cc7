// AVX-512 BF16 / VNNI micro-kernels of the prefill products (simd_panel.h; layouts in panel_gemm.h).
// As in simd_avx512.cpp, each group of functions sits in its own target region with exactly the
// extensions it uses, so nothing compiled for AVX512_BF16 or VNNI can run on a CPU without them.
#include "kernels/simd_panel.h"

#include <immintrin.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/simd.h"
#include "quants/block_formats.h"

namespace mla::simd {

bool avx512_bf16_cpu() {
  static const bool ok = avx512_cpu() && __builtin_cpu_supports("avx512bf16");
  return ok;
}

namespace {

// Runs rows.operator()<J>(i) for the input rows in groups of J (the register block), then the
// remainder in groups of J / 2, J / 4, ..., 1, so every group gets its accumulators in registers.
template <int J, class Kernel>
void for_row_blocks(int64_t n, Kernel&& rows) {
  int64_t i = 0;
  for (; i + J <= n; i += J) rows.template operator()<J>(i);
  if constexpr (J > 1)
    if (i < n) for_row_blocks<J / 2>(n - i, [&]<int K>(int64_t k) { rows.template operator()<K>(i + k); });
}

}  // namespace

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,fma,f16c")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// Helpers for the BF16 and VNNI regions below (their targets include this one's, so they inline).
namespace {

inline __mmask16 lanes_mask(int64_t live) {
  return live >= 16 ? static_cast<__mmask16>(0xFFFF) : live <= 0 ? 0 : static_cast<__mmask16>((1u << live) - 1);
}

// Stores (or adds) one group's 16 sums: Y row i, outputs [16 g, 16 g + 16) of the tile.
inline void put(float* y, __m512 v, __mmask16 m, bool accumulate) {
  if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, y));
  _mm512_mask_storeu_ps(y, m, v);
}

}  // namespace

// r[i] = dword row i of a 16 x 16 block -> r[s] = dword s of every row: 32-bit and 64-bit
// interleaves within 128-bit lanes, then a 4 x 4 transpose of the 128-bit lanes.
inline void transpose16(__m512i* r) {
  __m512i a[16], b[16];
  for (int i = 0; i < 16; i += 2) {
    a[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
    a[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
  }
  // b[4j + c], lane L: rows 4j..4j+3 of column 4L + c.
  for (int j = 0; j < 16; j += 4) {
    b[j] = _mm512_unpacklo_epi64(a[j], a[j + 2]);
    b[j + 1] = _mm512_unpackhi_epi64(a[j], a[j + 2]);
    b[j + 2] = _mm512_unpacklo_epi64(a[j + 1], a[j + 3]);
    b[j + 3] = _mm512_unpackhi_epi64(a[j + 1], a[j + 3]);
  }
  for (int c = 0; c < 4; ++c) {
    const __m512i x0 = _mm512_shuffle_i32x4(b[c], b[4 + c], 0x44), x1 = _mm512_shuffle_i32x4(b[c], b[4 + c], 0xEE);
    const __m512i x2 = _mm512_shuffle_i32x4(b[8 + c], b[12 + c], 0x44), x3 = _mm512_shuffle_i32x4(b[8 + c], b[12 + c], 0xEE);
    r[c] = _mm512_shuffle_i32x4(x0, x2, 0x88);
    r[4 + c] = _mm512_shuffle_i32x4(x0, x2, 0xDD);
    r[8 + c] = _mm512_shuffle_i32x4(x1, x3, 0x88);
    r[12 + c] = _mm512_shuffle_i32x4(x1, x3, 0xDD);
  }
}

void pack_dwords16(const uint8_t* const* rows, int64_t steps, uint32_t* panel) {
  for (int64_t s0 = 0; s0 < steps; s0 += 16) {
    const int64_t n = steps - s0 < 16 ? steps - s0 : 16;
    const __mmask16 m = lanes_mask(n);
    __m512i r[16];
    for (int i = 0; i < 16; ++i)
      r[i] = rows[i] != nullptr ? _mm512_maskz_loadu_epi32(m, rows[i] + 4 * s0) : _mm512_setzero_si512();
    transpose16(r);
    for (int64_t s = 0; s < n; ++s) _mm512_storeu_si512(panel + (s0 + s) * 32, r[s]);
  }
}

namespace {

// One block's 32 u bytes (block layouts: panel_gemm.cpp).
struct Q8_0Blocks {
  static constexpr int64_t kBytes = 34;
  static __m256i u(const uint8_t* blk) {
    return _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2)), _mm256_set1_epi8(static_cast<char>(0x80)));
  }
};
// 16 bytes of nibbles -> 32 bytes: value j (< 16) the low nibble of byte j, value 16 + j its high one.
inline __m256i nibbles32(const uint8_t* p) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), low4 = _mm_set1_epi8(15);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), low4), _mm_and_si128(q, low4));
}
struct Q4_0Blocks {
  static constexpr int64_t kBytes = 18;
  static __m256i u(const uint8_t* blk) { return nibbles32(blk + 2); }
};
// Q5_0: d 0, qh 2 (bit j: value j's fifth bit), qs 6.
struct Q5_0Blocks {
  static constexpr int64_t kBytes = 22;
  static __m256i u(const uint8_t* blk) {
    uint32_t qh;
    std::memcpy(&qh, blk + 2, 4);
    return _mm256_or_si256(nibbles32(blk + 6), _mm256_maskz_mov_epi8(_cvtu32_mask32(qh), _mm256_set1_epi8(16)));
  }
};

// IQ4 codes (one per byte, < 16) -> the unsigned u = kIq4nlValues + 128 (IQ4_NL, IQ4_XS).
constexpr std::array<uint8_t, 16> kIq4Unsigned = [] {
  std::array<uint8_t, 16> t{};
  for (int i = 0; i < 16; ++i) t[i] = static_cast<uint8_t>(kIq4nlValues[i] + 128);
  return t;
}();
inline __m256i iq4_unsigned(__m256i codes) {
  __m128i table;
  std::memcpy(&table, kIq4Unsigned.data(), 16);
  return _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(table), codes);
}
// IQ4_NL: Q4_0's block, its codes through the table.
struct IQ4_NLBlocks {
  static constexpr int64_t kBytes = 18;
  static __m256i u(const uint8_t* blk) { return iq4_unsigned(Q4_0Blocks::u(blk)); }
};

inline float f16_scale(const uint8_t* blk) {
  uint16_t h;
  __builtin_memcpy(&h, blk, 2);
  return _cvtsh_ss(h);
}

template <class F>
void pack_blocks16(const uint8_t* const* rows, int64_t b0, int64_t nb, uint8_t* panel) {
  for (int64_t b = 0; b < nb; b += 2) {
    const bool pair = b + 1 < nb;
    __m512i r[16];
    alignas(64) float d0[16], d1[16];
    for (int i = 0; i < 16; ++i) {
      if (rows[i] == nullptr) {
        r[i] = _mm512_setzero_si512();
        d0[i] = d1[i] = 0;
        continue;
      }
      const uint8_t* blk = rows[i] + (b0 + b) * F::kBytes;
      const __m256i hi = pair ? F::u(blk + F::kBytes) : _mm256_setzero_si256();
      r[i] = _mm512_inserti64x4(_mm512_castsi256_si512(F::u(blk)), hi, 1);
      d0[i] = f16_scale(blk);
      d1[i] = pair ? f16_scale(blk + F::kBytes) : 0.0f;
    }
    transpose16(r);  // r[k]: step k of block b, r[8 + k]: of block b + 1
    uint8_t* pb = panel + b * kInt8BlockBytes;
    for (int k = 0; k < 8; ++k) _mm512_storeu_si512(pb + 128 * k, r[k]);
    _mm512_storeu_ps(pb + 1024, _mm512_load_ps(d0));
    if (!pair) continue;
    for (int k = 0; k < 8; ++k) _mm512_storeu_si512(pb + kInt8BlockBytes + 128 * k, r[8 + k]);
    _mm512_storeu_ps(pb + kInt8BlockBytes + 1024, _mm512_load_ps(d1));
  }
}

}  // namespace

void pack_q8_0_16(const uint8_t* const* rows, int64_t b0, int64_t nb, uint8_t* panel) {
  pack_blocks16<Q8_0Blocks>(rows, b0, nb, panel);
}
void pack_q4_0_16(const uint8_t* const* rows, int64_t b0, int64_t nb, uint8_t* panel) {
  pack_blocks16<Q4_0Blocks>(rows, b0, nb, panel);
}
void pack_iq4_nl_16(const uint8_t* const* rows, int64_t b0, int64_t nb, uint8_t* panel) {
  pack_blocks16<IQ4_NLBlocks>(rows, b0, nb, panel);
}
void pack_q5_0_16(const uint8_t* const* rows, int64_t b0, int64_t nb, uint8_t* panel) {
  pack_blocks16<Q5_0Blocks>(rows, b0, nb, panel);
}

namespace {

// The 256-value formats with SIMD unpackers: block j (< 8) of a super-block as 32 u bytes, and its
// scales (per sub-block; quants/int8_unpack.h gives the same form one value at a time).
__m256i shift_and(__m256i v, int shift, int mask) {
  return _mm256_and_si256(_mm256_srl_epi16(v, _mm_cvtsi32_si128(shift)), _mm256_set1_epi8(static_cast<char>(mask)));
}
__m256i load32(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
// low with bit j of bits[l] moved to bit `at` of byte l (Q5_K's fifth bit, Q3_K's third).
__m256i with_high_bit(__m256i low, const uint8_t* bits, int j, int at) {
  return _mm256_or_si256(low, _mm256_slli_epi16(shift_and(load32(bits), j, 1), at));
}
// Q2_K / Q3_K: block j's 2-bit fields, bits 2 (j % 4) of qs[32 (j / 4) + l].
__m256i fields2(const uint8_t* qs, int j) { return shift_and(load32(qs + 32 * (j / 4)), 2 * (j % 4), 3); }

// Q4_K / Q5_K block j's scale d * sc and min -dmin * m (k4_scale_min's 6-bit fields).
template <class Block>
void k_scale_min(const uint8_t* sb, int j, float* d, float* m) {
  const auto& x = *reinterpret_cast<const Block*>(sb);
  int sc, mn;
  k4_scale_min(x.scales, j, sc, mn);
  d[0] = _cvtsh_ss(x.d) * static_cast<float>(sc);
  m[0] = -_cvtsh_ss(x.dmin) * static_cast<float>(mn);
}

struct Q4_KSuper {
  static constexpr int kSub = 32;
  static constexpr bool kMin = true;
  static constexpr int64_t kBytes = sizeof(BlockQ4_K);
  static __m256i u(const uint8_t* sb, int j) { return shift_and(load32(sb + offsetof(BlockQ4_K, qs) + 32 * (j / 2)), 4 * (j % 2), 15); }
  static void scales(const uint8_t* sb, int j, float* d, float* m) { k_scale_min<BlockQ4_K>(sb, j, d, m); }
};
struct Q5_KSuper {
  static constexpr int kSub = 32;
  static constexpr bool kMin = true;
  static constexpr int64_t kBytes = sizeof(BlockQ5_K);
  static __m256i u(const uint8_t* sb, int j) {
    const __m256i low = shift_and(load32(sb + offsetof(BlockQ5_K, qs) + 32 * (j / 2)), 4 * (j % 2), 15);
    return with_high_bit(low, sb + offsetof(BlockQ5_K, qh), j, 4);
  }
  static void scales(const uint8_t* sb, int j, float* d, float* m) { k_scale_min<BlockQ5_K>(sb, j, d, m); }
};
struct Q6_KSuper {
  static constexpr int kSub = 16;
  static constexpr bool kMin = false;
  static constexpr int64_t kBytes = sizeof(BlockQ6_K);
  static __m256i u(const uint8_t* sb, int j) {
    const int h = j / 4, s = j % 4;
    const __m256i low = shift_and(load32(sb + offsetof(BlockQ6_K, ql) + 64 * h + 32 * (s % 2)), 4 * (s / 2), 15);
    const __m256i high = _mm256_slli_epi16(shift_and(load32(sb + offsetof(BlockQ6_K, qh) + 32 * h), 2 * s, 3), 4);
    return _mm256_or_si256(low, high);
  }
  static void scales(const uint8_t* sb, int j, float* d, float*) {
    const auto& x = *reinterpret_cast<const BlockQ6_K*>(sb);
    const float dd = _cvtsh_ss(x.d);
    for (int k = 0; k < 2; ++k) d[k] = dd * static_cast<float>(x.scales[8 * (j / 4) + 2 * (j % 4) + k]);
  }
};
// Q2_K / Q3_K: block j is fields2 (Q3_K: plus bit j of hmask[l] as bit 2), two sub-blocks of 16
// with scales 2j and 2j + 1 (quants/int8_unpack.cpp's unpack_q2_k / unpack_q3_k, one value at a time).
struct Q2_KSuper {
  static constexpr int kSub = 16;
  static constexpr bool kMin = true;
  static constexpr int64_t kBytes = sizeof(BlockQ2_K);
  static __m256i u(const uint8_t* sb, int j) { return fields2(sb + offsetof(BlockQ2_K, qs), j); }
  static void scales(const uint8_t* sb, int j, float* d, float* m) {
    const auto& x = *reinterpret_cast<const BlockQ2_K*>(sb);
    const float dd = _cvtsh_ss(x.d), dmin = _cvtsh_ss(x.dmin);
    for (int h = 0; h < 2; ++h) {
      d[h] = dd * static_cast<float>(x.scales[2 * j + h] & 15);
      m[h] = -dmin * static_cast<float>(x.scales[2 * j + h] >> 4);
    }
  }
};
struct Q3_KSuper {
  static constexpr int kSub = 16;
  static constexpr bool kMin = false;
  static constexpr int64_t kBytes = sizeof(BlockQ3_K);
  static __m256i u(const uint8_t* sb, int j) {
    return with_high_bit(fields2(sb + offsetof(BlockQ3_K, qs), j), sb + offsetof(BlockQ3_K, hmask), j, 2);
  }
  static void scales(const uint8_t* sb, int j, float* d, float*) {
    const auto& x = *reinterpret_cast<const BlockQ3_K*>(sb);
    int sc[16];
    q3_k_scales(x.scales, sc);
    const float dd = _cvtsh_ss(x.d);
    for (int h = 0; h < 2; ++h) d[h] = dd * static_cast<float>(sc[2 * j + h]);
  }
};
struct IQ4_XSSuper {
  static constexpr int kSub = 32;
  static constexpr bool kMin = false;
  static constexpr int64_t kBytes = sizeof(BlockIQ4_XS);
  static __m256i u(const uint8_t* sb, int j) { return iq4_unsigned(nibbles32(sb + offsetof(BlockIQ4_XS, qs) + 16 * j)); }
  static void scales(const uint8_t* sb, int j, float* d, float*) {
    const auto& x = *reinterpret_cast<const BlockIQ4_XS*>(sb);
    const int ls = ((x.scales_l[j / 2] >> (4 * (j % 2))) & 15) | ((x.scales_h >> (2 * j)) & 3) << 4;
    d[0] = _cvtsh_ss(x.d) * static_cast<float>(ls - 32);
  }
};

// Blocks [b0, b0 + nb) (b0, nb even: whole pairs) of 16 rows as F's sub-blocks: two blocks of every
// row per 16 x 16 dword transpose, then each sub-block's steps, d and m in the panel's layout.
template <class F>
void pack_super16(const uint8_t* const* rows, int64_t b0, int64_t nb, uint8_t* panel) {
  constexpr int kSteps = F::kSub / 4, kPerBlock = 32 / F::kSub;
  constexpr int64_t kSubBytes = int8_sub_bytes(F::kSub, F::kMin);
  for (int64_t b = 0; b < nb; b += 2) {
    __m512i r[16];
    alignas(64) float d[2 * kPerBlock][16] = {}, m[2 * kPerBlock][16] = {};
    for (int i = 0; i < 16; ++i) {
      if (rows[i] == nullptr) {
        r[i] = _mm512_setzero_si512();
        continue;
      }
      const int64_t g = b0 + b;  // first block of the pair (even: both in one super-block)
      const uint8_t* sb = rows[i] + g / 8 * F::kBytes;
      const int j = static_cast<int>(g % 8);
      r[i] = _mm512_inserti64x4(_mm512_castsi256_si512(F::u(sb, j)), F::u(sb, j + 1), 1);
      for (int k = 0; k < 2; ++k) {
        float dk[2] = {}, mk[2] = {};
        F::scales(sb, j + k, dk, mk);
        for (int h = 0; h < kPerBlock; ++h) {
          d[k * kPerBlock + h][i] = dk[h];
          m[k * kPerBlock + h][i] = mk[h];
        }
      }
    }
    transpose16(r);  // r[k]: step k of the pair, kSteps per sub-block
    for (int sub = 0; sub < 2 * kPerBlock; ++sub) {
      uint8_t* pb = panel + (b * kPerBlock + sub) * kSubBytes;
      for (int k = 0; k < kSteps; ++k) _mm512_storeu_si512(pb + 128 * k, r[sub * kSteps + k]);
      _mm512_storeu_ps(pb + 128 * kSteps, _mm512_load_ps(d[sub]));
      if (F::kMin) _mm512_storeu_ps(pb + 128 * kSteps + 128, _mm512_load_ps(m[sub]));
    }
  }
}

}  // namespace

void pack_q2_k_16(const uint8_t* const* rows, int64_t b0, int64_t nb, uint8_t* panel) {
  pack_super16<Q2_KSuper>(rows, b0, nb, panel);
}
void pack_q3_k_16(const uint8_t* const* rows, int64_t b0, int64_t nb, uint8_t* panel) {
  pack_super16<Q3_KSuper>(rows, b0, nb, panel);
}
void pack_q4_k_16(const uint8_t* const* rows, int64_t b0, int64_t nb, uint8_t* panel) {
  pack_super16<Q4_KSuper>(rows, b0, nb, panel);
}
void pack_q5_k_16(const uint8_t* const* rows, int64_t b0, int64_t nb, uint8_t* panel) {
  pack_super16<Q5_KSuper>(rows, b0, nb, panel);
}
void pack_q6_k_16(const uint8_t* const* rows, int64_t b0, int64_t nb, uint8_t* panel) {
  pack_super16<Q6_KSuper>(rows, b0, nb, panel);
}
void pack_iq4_xs_16(const uint8_t* const* rows, int64_t b0, int64_t nb, uint8_t* panel) {
  pack_super16<IQ4_XSSuper>(rows, b0, nb, panel);
}

void quantize_x_blocks(const float* x, int64_t cols, int32_t off, int8_t* q, float* d, int32_t* s) {
  for (int64_t b = 0; b < cols / 32; ++b) {
    const __m512 lo = _mm512_loadu_ps(x + 32 * b), hi = _mm512_loadu_ps(x + 32 * b + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(lo), _mm512_abs_ps(hi)));
    const __m512 inv = _mm512_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
    // Round to nearest even (the MXCSR default), as ggml's quantize_row_q8_0 and the scalar twin.
    const __m512i qlo = _mm512_cvtps_epi32(_mm512_mul_ps(lo, inv)), qhi = _mm512_cvtps_epi32(_mm512_mul_ps(hi, inv));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 32 * b), _mm512_cvtsepi32_epi8(qlo));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 32 * b + 16), _mm512_cvtsepi32_epi8(qhi));
    d[b] = amax / 127.0f;
    s[b] = -off * _mm512_reduce_add_epi32(_mm512_add_epi32(qlo, qhi));
  }
}

#pragma GCC diagnostic pop
#pragma GCC pop_options

// ---- AVX512_BF16 ----
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512bf16,fma,f16c")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

void x_to_bf16(const float* x, int64_t n, uint16_t* out) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(_mm512_loadu_ps(x + i))));
  if (i < n) {
    const __mmask16 m = lanes_mask(n - i);
    _mm256_mask_storeu_epi16(out + i, m, reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, x + i))));
  }
}

namespace {

// 32 bf16 values (a named function: a lambda returning __m512bh draws GCC's -Wpsabi note).
inline __m512bh ld(const uint16_t* p) { return reinterpret_cast<__m512bh>(_mm512_loadu_si512(p)); }

// One weight row against kG inputs (x_j = x + j * cols): four accumulators per input, 32 values each
// per step of 128, then the 32-value steps, then the tail, summed (a0 + a1) + (a2 + a3): the same
// operations in the same order for every kG, so an input's result never depends on the batch.
template <int kG>
inline void dot_row(const uint16_t* row, int64_t cols, const uint16_t* x, float* y, int64_t ldy) {
  __m512 a[kG][4];
  for (int j = 0; j < kG; ++j)
    for (int q = 0; q < 4; ++q) a[j][q] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 128 <= cols; k += 128) {
    const __m512bh w[4] = {ld(row + k), ld(row + k + 32), ld(row + k + 64), ld(row + k + 96)};
    for (int j = 0; j < kG; ++j)
      for (int q = 0; q < 4; ++q) a[j][q] = _mm512_dpbf16_ps(a[j][q], w[q], ld(x + j * cols + k + 32 * q));
  }
  for (; k + 32 <= cols; k += 32) {
    const __m512bh w = ld(row + k);
    for (int j = 0; j < kG; ++j) a[j][0] = _mm512_dpbf16_ps(a[j][0], w, ld(x + j * cols + k));
  }
  if (k < cols) {  // the last pairs, zero beyond
    const __mmask32 m = static_cast<__mmask32>((uint64_t{1} << (cols - k)) - 1);
    const __m512bh w = reinterpret_cast<__m512bh>(_mm512_maskz_loadu_epi16(m, row + k));
    for (int j = 0; j < kG; ++j)
      a[j][1] = _mm512_dpbf16_ps(a[j][1], w, reinterpret_cast<__m512bh>(_mm512_maskz_loadu_epi16(m, x + j * cols + k)));
  }
  for (int j = 0; j < kG; ++j)
    y[j * ldy] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a[j][0], a[j][1]), _mm512_add_ps(a[j][2], a[j][3])));
}

}  // namespace

// Inputs in groups of up to 6 (24 accumulators); a row is re-read from L1 for the next group. No
// software prefetch: with the hardware prefetchers alone this AMD EPYC streamed 94.7-94.8% of the
// read probe, against 87.0-90.6% with every line prefetched 1 KiB ahead (as gemv_bf16 does), in
// alternating runs of `mla bench gemv --formats bf16`.
void gemv_bf16_dot(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* xb, int64_t n, float* y,
                   int64_t ldy) {
  const uint16_t* x = reinterpret_cast<const uint16_t*>(xb);
  for (int64_t r = 0; r < rows; ++r) {
    const uint16_t* row = reinterpret_cast<const uint16_t*>(w + r * stride);
    for (int64_t j = 0; j < n; j += 6) {
      const uint16_t* xj = x + j * cols;
      float* yj = y + j * ldy + r;
      switch (n - j < 6 ? n - j : 6) {
        case 1: dot_row<1>(row, cols, xj, yj, ldy); break;
        case 2: dot_row<2>(row, cols, xj, yj, ldy); break;
        case 3: dot_row<3>(row, cols, xj, yj, ldy); break;
        case 4: dot_row<4>(row, cols, xj, yj, ldy); break;
        case 5: dot_row<5>(row, cols, xj, yj, ldy); break;
        default: dot_row<6>(row, cols, xj, yj, ldy); break;
      }
    }
  }
}

// J input rows x 32 weight rows: 2J accumulators; per step 2 panel loads and J broadcasts feed 2J
// vdpbf16ps (J = 12: 24 accumulators, 14 loads per 24 instructions).
void panel_bf16(const uint32_t* panel, int64_t steps, const uint32_t* x, int64_t ldx, int64_t n, float* y,
                int64_t ldy, int64_t live_rows, bool accumulate) {
  const __mmask16 m0 = lanes_mask(live_rows), m1 = lanes_mask(live_rows - 16);
  for_row_blocks<12>(n, [&]<int J>(int64_t i0) {
    __m512 a0[J], a1[J];
#pragma GCC unroll 16
    for (int j = 0; j < J; ++j) a0[j] = a1[j] = _mm512_setzero_ps();
    const uint32_t* xr = x + i0 * ldx;
    for (int64_t s = 0; s < steps; ++s) {
      const __m512bh w0 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(panel + 32 * s));
      const __m512bh w1 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(panel + 32 * s + 16));
#pragma GCC unroll 16
      for (int j = 0; j < J; ++j) {
        const __m512bh xb = reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(xr[j * ldx + s])));
        a0[j] = _mm512_dpbf16_ps(a0[j], w0, xb);
        a1[j] = _mm512_dpbf16_ps(a1[j], w1, xb);
      }
    }
#pragma GCC unroll 16
    for (int j = 0; j < J; ++j) {
      float* yr = y + (i0 + j) * ldy;
      put(yr, a0[j], m0, accumulate);
      if (m1) put(yr + 16, a1[j], m1, accumulate);
    }
  });
}

#pragma GCC diagnostic pop
#pragma GCC pop_options

// ---- AVX512_VNNI ----
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni,fma,f16c")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace {

inline int32_t load_i32(const int8_t* p) {
  int32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

}  // namespace

// J input rows x 32 weight rows: per sub-block, 2J int32 sums (kSteps vpdpbusd each: 4 bytes per
// step) started at the offset correction, exact in int32 (|s| + |u q| <= 2 * 255 * 127 * 32 < 2^22),
// then scaled into 2J f32 sums with one FMA (and the min's one more).
template <int kSteps, bool kMin>
void panel_int8_kernel(const uint8_t* panel, int64_t subs, const Int8PanelX& x, int64_t n, float* y, int64_t ldy,
                       int64_t live_rows, bool accumulate) {
  constexpr int64_t kSubBytes = int8_sub_bytes(4 * kSteps, kMin);
  const __mmask16 m0 = lanes_mask(live_rows), m1 = lanes_mask(live_rows - 16);
  for_row_blocks<8>(n, [&]<int J>(int64_t i0) {
    __m512 f0[J], f1[J];
#pragma GCC unroll 8
    for (int j = 0; j < J; ++j) f0[j] = f1[j] = _mm512_setzero_ps();
    for (int64_t b = 0; b < subs; ++b) {
      const uint8_t* pb = panel + b * kSubBytes;
      __m512i s0[J], s1[J];
#pragma GCC unroll 8
      for (int j = 0; j < J; ++j) s0[j] = s1[j] = _mm512_set1_epi32(x.s[(i0 + j) * x.ldd + b]);
#pragma GCC unroll 8
      for (int k = 0; k < kSteps; ++k) {
        const __m512i w0 = _mm512_loadu_si512(pb + 128 * k), w1 = _mm512_loadu_si512(pb + 128 * k + 64);
#pragma GCC unroll 8
        for (int j = 0; j < J; ++j) {
          const __m512i xb = _mm512_set1_epi32(load_i32(x.q + (i0 + j) * x.ldq + 4 * kSteps * b + 4 * k));
          s0[j] = _mm512_dpbusd_epi32(s0[j], w0, xb);
          s1[j] = _mm512_dpbusd_epi32(s1[j], w1, xb);
        }
      }
      const float* dw = reinterpret_cast<const float*>(pb + kSteps * 128);
      const __m512 dw0 = _mm512_loadu_ps(dw), dw1 = _mm512_loadu_ps(dw + 16);
#pragma GCC unroll 8
      for (int j = 0; j < J; ++j) {
        const __m512 dx = _mm512_set1_ps(x.d[(i0 + j) * x.ldd + b]);
        f0[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0[j]), _mm512_mul_ps(dw0, dx), f0[j]);
        f1[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s1[j]), _mm512_mul_ps(dw1, dx), f1[j]);
      }
      if constexpr (kMin) {
        const __m512 mw0 = _mm512_loadu_ps(dw + 32), mw1 = _mm512_loadu_ps(dw + 48);
#pragma GCC unroll 8
        for (int j = 0; j < J; ++j) {
          const __m512 xs = _mm512_set1_ps(x.xs[(i0 + j) * x.ldd + b]);
          f0[j] = _mm512_fmadd_ps(mw0, xs, f0[j]);
          f1[j] = _mm512_fmadd_ps(mw1, xs, f1[j]);
        }
      }
    }
#pragma GCC unroll 8
    for (int j = 0; j < J; ++j) {
      float* yr = y + (i0 + j) * ldy;
      put(yr, f0[j], m0, accumulate);
      if (m1) put(yr + 16, f1[j], m1, accumulate);
    }
  });
}

void panel_int8(const uint8_t* panel, int64_t subs, int sub, bool has_min, const Int8PanelX& x, int64_t n, float* y,
                int64_t ldy, int64_t live_rows, bool accumulate) {
  if (sub == 32)
    (has_min ? panel_int8_kernel<8, true> : panel_int8_kernel<8, false>)(panel, subs, x, n, y, ldy, live_rows, accumulate);
  else
    (has_min ? panel_int8_kernel<4, true> : panel_int8_kernel<4, false>)(panel, subs, x, n, y, ldy, live_rows, accumulate);
}

#pragma GCC diagnostic pop
#pragma GCC pop_options

}  // namespace mla::simd
