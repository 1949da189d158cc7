// AVX512_BF16 attention kernels (simd_attn_dot.h). Everything after the pragma is compiled for exactly
// the extensions it uses; callers reach it only after avx512_bf16_cpu() (simd_panel.h).
#include "kernels/simd_attn_dot.h"

#include <immintrin.h>

#include <cstdint>

#include "kernels/simd_prefetch.h"

namespace mla::simd {

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512bf16,fma,f16c")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace {

// acc + dot2(a, the dword at p broadcast to all 16 lanes), the broadcast inside the instruction
// ({1to16} memory operand). GCC 12 issues _mm512_dpbf16_ps(acc, a, _mm512_set1_epi32(*p)) as a
// separate vpbroadcastd per product.
inline __m512 dot_bcast(__m512 acc, __m512bh a, const void* p) {
  asm("vdpbf16ps %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(a), "m"(*static_cast<const uint32_t*>(p)));
  return acc;
}
inline __m512bh load_pairs(const uint32_t* p) { return reinterpret_cast<__m512bh>(_mm512_load_si512(p)); }

// J keys against one lane group, four dim pairs (16 bytes of every row) per step so the J row
// offsets stay in registers across them: 4 q loads feed 4 J vdpbf16ps, each key pair a broadcast.
template <int J>
inline void scores_tile(const uint32_t* qp, int64_t d_k, const uint16_t* k, int64_t stride, float* s,
                        const uint16_t* pf) {
  __m512 a[J];
#pragma GCC unroll 16
  for (int j = 0; j < J; ++j) a[j] = _mm512_setzero_ps();
  const int64_t whole = d_k / 2;
  int64_t i = 0;
  for (; i + 4 <= whole; i += 4) {
    if (pf) prefetch_rows_step<J, 16>(pf, stride, i / 4, 2 * i);
    const uint32_t* q = qp + 16 * i;
    const __m512bh q0 = load_pairs(q), q1 = load_pairs(q + 16), q2 = load_pairs(q + 32), q3 = load_pairs(q + 48);
#pragma GCC unroll 16
    for (int j = 0; j < J; ++j) {
      const uint16_t* kj = k + j * stride + 2 * i;
      a[j] = dot_bcast(a[j], q0, kj);
      a[j] = dot_bcast(a[j], q1, kj + 2);
      a[j] = dot_bcast(a[j], q2, kj + 4);
      a[j] = dot_bcast(a[j], q3, kj + 6);
    }
  }
  for (; i < whole; ++i) {
    const __m512bh q0 = load_pairs(qp + 16 * i);
#pragma GCC unroll 16
    for (int j = 0; j < J; ++j) a[j] = dot_bcast(a[j], q0, k + j * stride + 2 * i);
  }
  if (d_k % 2) {  // the last dim alone, zero-extended: its pair's high half is 0 in qp too
    const __m512bh q0 = load_pairs(qp + 16 * whole);
#pragma GCC unroll 16
    for (int j = 0; j < J; ++j)
      a[j] = _mm512_dpbf16_ps(a[j], q0, reinterpret_cast<__m512bh>(_mm512_set1_epi32(k[j * stride + d_k - 1])));
  }
#pragma GCC unroll 16
  for (int j = 0; j < J; ++j) _mm512_store_ps(s + 16 * j, a[j]);
}

// Word indices that interleave two sources: word 2 e is word first + e of the permute's input, word
// 2 e + 1 is word second + e.
inline __m512i interleave_words(int first, int second) {
  alignas(64) int16_t idx[32];
  for (int e = 0; e < 16; ++e) {
    idx[2 * e] = static_cast<int16_t>(first + e);
    idx[2 * e + 1] = static_cast<int16_t>(second + e);
  }
  return _mm512_load_si512(idx);
}

inline __mmask32 words_mask(int64_t live) {
  return live >= 32 ? ~__mmask32{0} : static_cast<__mmask32>((uint32_t{1} << live) - 1);
}

}  // namespace

void attn_scores_lanes_dot(const uint32_t* qp, int64_t d_k, const uint16_t* k, int64_t stride, int64_t n, float* s,
                           const uint16_t* pf) {
  auto at = [&](int64_t j) { return pf ? pf + j * stride : nullptr; };
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) scores_tile<16>(qp, d_k, k + j * stride, stride, s + 16 * j, at(j));
  if (n - j >= 8) scores_tile<8>(qp, d_k, k + j * stride, stride, s + 16 * j, at(j)), j += 8;
  if (n - j >= 4) scores_tile<4>(qp, d_k, k + j * stride, stride, s + 16 * j, at(j)), j += 4;
  if (n - j >= 2) scores_tile<2>(qp, d_k, k + j * stride, stride, s + 16 * j, at(j)), j += 2;
  if (n - j >= 1) scores_tile<1>(qp, d_k, k + j * stride, stride, s + 16 * j, at(j));
}

void attn_weight_pairs(const float* p, int64_t n, uint32_t* pp) {
  // vcvtne2ps2bf16 puts row 2 j in words 0-15 and row 2 j + 1 in words 16-31; one word permute pairs them.
  const __m512i idx = interleave_words(0, 16);
  for (int64_t j = 0; 2 * j < n; ++j) {
    const __m512 lo = _mm512_load_ps(p + 32 * j);
    const __m512 hi = 2 * j + 1 < n ? _mm512_load_ps(p + 32 * j + 16) : _mm512_setzero_ps();
    const __m512i both = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo));
    _mm512_store_si512(pp + 16 * j, _mm512_permutexvar_epi16(idx, both));
  }
}

void attn_accumulate_lanes_dot(const uint32_t* pp, int64_t groups, const uint8_t* const* rows, int64_t offset,
                               int64_t n, int64_t d_v, uint32_t* tile, float* acc_t) {
  const int64_t pairs = (n + 1) / 2;
  // 32 dims of two rows -> their pairs for dims 0-15 (lo) and 16-31 (hi) of the 32.
  const __m512i lo_idx = interleave_words(0, 32), hi_idx = interleave_words(16, 48);
  for (int64_t d = 0; d < d_v; d += 32) {
    const __mmask32 m = words_mask(d_v - d);
    uint32_t* hi = tile + pairs * 16;
    for (int64_t j = 0; j < pairs; ++j) {
      const uint16_t* r0 = reinterpret_cast<const uint16_t*>(rows[2 * j]) + offset + d;
      const __m512i a = _mm512_maskz_loadu_epi16(m, r0);
      const __m512i b = 2 * j + 1 < n ? _mm512_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(rows[2 * j + 1]) + offset + d)
                                      : _mm512_setzero_si512();
      _mm512_store_si512(tile + 16 * j, _mm512_permutex2var_epi16(a, lo_idx, b));
      _mm512_store_si512(hi + 16 * j, _mm512_permutex2var_epi16(a, hi_idx, b));
    }
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t half = 0; half < 2 && d + 16 * half < d_v; ++half) {
        const int64_t d0 = d + 16 * half, live = d_v - d0 < 16 ? d_v - d0 : 16;
        float* at = acc_t + (g * d_v + d0) * 16;
        const uint32_t* v = tile + half * pairs * 16;
        const uint32_t* w = pp + g * pairs * 16;
        __m512 a[16];
#pragma GCC unroll 16
        for (int e = 0; e < 16; ++e) a[e] = e < live ? _mm512_load_ps(at + 16 * e) : _mm512_setzero_ps();
        for (int64_t j = 0; j < pairs; ++j) {
          const __m512bh wj = load_pairs(w + 16 * j);
#pragma GCC unroll 16
          for (int e = 0; e < 16; ++e) a[e] = dot_bcast(a[e], wj, v + 16 * j + e);
        }
#pragma GCC unroll 16
        for (int e = 0; e < 16; ++e)
          if (e < live) _mm512_store_ps(at + 16 * e, a[e]);
      }
  }
}

#pragma GCC diagnostic pop
#pragma GCC pop_options

}  // namespace mla::simd
