// Internal to simd_quants.cpp and simd_iquants.cpp: the prepared-x view (layout in simd_quants.h)
// and the per-chunk helpers both files' gemv kernels use. The helpers below the `#pragma GCC
// target` line are compiled for AVX-512 + VNNI and may be called only after avx512_vnni_cpu().
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "quants/block_formats.h"

namespace mla::simd::x8 {

// x8 holds values up to a multiple of 128 (a legacy row is read 4 blocks at a time; the padding is
// zero, d_x 0).
inline int64_t padded(int64_t cols) { return (cols + 127) / 128 * 128; }

}  // namespace mla::simd::x8

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni,fma,f16c")

namespace mla::simd::x8 {

struct X8 {
  const int8_t* q;
  const float* dxl;
  const float* sum16;
  const float* sum32;
  const float* dx16;
};

inline X8 view(const uint8_t* x8, int64_t cols) {
  const int64_t p = padded(cols);
  const float* dxl = reinterpret_cast<const float*>(x8 + p);
  const float* sum16 = dxl + p / 4;
  return {reinterpret_cast<const int8_t*>(x8), dxl, sum16, sum16 + p / 16, sum16 + p / 16 + p / 32};
}

// The row stream is prefetched this far ahead, every cache line of it (as simd_avx512.cpp's gemv,
// which measured 1 KiB best for one sequential stream per core).
constexpr int64_t kPrefetchBytes = 1024;

template <int64_t kBytes>
inline void prefetch(const uint8_t* b) {
#pragma GCC unroll 8
  for (int64_t o = 0; o < kBytes; o += 64) _mm_prefetch(reinterpret_cast<const char*>(b + kPrefetchBytes + o), _MM_HINT_T0);
}

inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}
inline uint64_t load_u16(const uint8_t* p) {
  uint16_t v;
  __builtin_memcpy(&v, p, 2);
  return v;
}
inline uint64_t load_u64(const uint8_t* p) {
  uint64_t v;
  __builtin_memcpy(&v, p, 8);
  return v;
}
inline float f16_at(const uint8_t* p) { return _cvtsh_ss(static_cast<unsigned short>(load_u16(p))); }
inline __m128i load64(const uint8_t* p) { return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)); }
inline __m128i load128(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
inline __m256i load256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m512i bcast256(const uint8_t* p) { return _mm512_broadcast_i64x4(load256(p)); }

// IQ4 codes -> value + 128 (unsigned), by one in-lane table lookup (IQ4_XS, IQ4_NL).
inline __m512i iq4_table() {
  return _mm512_broadcast_i32x4(_mm_setr_epi8(1, 24, 45, 63, 79, 93, 106, 118, -127, -115, -103, -90, -75, -59, -39, -15));
}
static_assert(kIq4nlValues[0] + 128 == 1 && kIq4nlValues[8] + 128 == 129 && kIq4nlValues[15] + 128 == 241,
              "iq4_table is kIq4nlValues + 128 as bytes");

// Which entry of a 16-float scale vector each vpdpbusd lane (4 values) of a chunk takes:
// per32(j): lanes 0-7 entry j, lanes 8-15 entry j + 1 (two sub-blocks of 32);
// per16(j): lanes 4i..4i+3 entry j + i (four sub-blocks of 16).
inline __m512i per32(int j) { return _mm512_setr_epi32(j, j, j, j, j, j, j, j, j + 1, j + 1, j + 1, j + 1, j + 1, j + 1, j + 1, j + 1); }
inline __m512i per16(int j) {
  return _mm512_setr_epi32(j, j, j, j, j + 1, j + 1, j + 1, j + 1, j + 2, j + 2, j + 2, j + 2, j + 3, j + 3, j + 3, j + 3);
}

// One 64-value chunk (values v..v+63 of the row) of unsigned codes u against q (64 int8 of x, q_x
// or q_x with signs applied): acc += (u · q) per lane * a (per lane) * d_x (per lane).
inline __m512 chunk_q(__m512i u, __m512i q, const X8& x, int64_t v, __m512 a, __m512 acc) {
  const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, q);
  return _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(a, _mm512_loadu_ps(x.dxl + v / 4)), acc);
}
inline __m512 chunk(__m512i u, const X8& x, int64_t v, __m512 a, __m512 acc) {
  return chunk_q(u, _mm512_loadu_si512(x.q + v), x, v, a, acc);
}
// As chunk_q / chunk, with d_x already in the per-lane ax (a_j d_x per 16 values from ax16 / ax32,
// then spread): one multiply per super-block instead of one per chunk.
inline __m512 chunk_q_ax(__m512i u, __m512i q, __m512 ax, __m512 acc) {
  return _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_setzero_si512(), u, q)), ax, acc);
}
inline __m512 chunk_ax(__m512i u, const X8& x, int64_t v, __m512 ax, __m512 acc) {
  return chunk_q_ax(u, _mm512_loadu_si512(x.q + v), ax, acc);
}
// a_j d_x for the 16 sub-blocks of 16 values of super-block s, from their 16 scales a_j, or from
// the 8 scales a_j of its sub-blocks of 32 (each taken twice); a chunk k takes entries 4k..4k+3
// (per16(4k)). The same products as a_j times the dxl lanes.
inline __m512 ax16(__m512 a16, const X8& x, int64_t s) { return _mm512_mul_ps(a16, _mm512_loadu_ps(x.dx16 + 16 * s)); }
inline __m512 ax32(__m512 a8, const X8& x, int64_t s, int first = 0) {  // a_j in entries first..first+7
  const int f = first;
  return ax16(_mm512_permutexvar_ps(_mm512_setr_epi32(f, f, f + 1, f + 1, f + 2, f + 2, f + 3, f + 3, f + 4, f + 4, f + 5, f + 5, f + 6,
                                                      f + 6, f + 7, f + 7),
                                    a8),
              x, s);
}

// The f16 d (at byte 0) and, with kMin >= 0, m (at byte kMin) of four consecutive kB-byte blocks
// at b, as f32: lanes 0-3 d, 4-7 m (d again without m), picked by one word permute from the bytes
// up to the last one needed (masked load: nothing past it is read). Eight scalar loads and shifts
// before: +30% (Q4_1) in `mla bench gemv` with the rows in cache.
template <int64_t kB, int64_t kMin>
inline __m256 block_d_m(const uint8_t* b) {
  constexpr int kD = kB / 2, kM = kMin >= 0 ? kMin / 2 : 0;
  constexpr int64_t kNeed = 6 * kD + 2 * kM + 2;  // bytes up to the fourth block's last field
  static_assert(kB % 2 == 0 && kNeed <= 128);
  const __m512i idx = _mm512_zextsi128_si512(_mm_setr_epi16(0, kD, 2 * kD, 3 * kD, kM, kD + kM, 2 * kD + kM, 3 * kD + kM));
  __m512i h;
  if constexpr (kNeed <= 64) {
    h = _mm512_permutexvar_epi16(idx, _mm512_maskz_loadu_epi8(_cvtu64_mask64(~uint64_t{0} >> (64 - kNeed)), b));
  } else {
    const __m512i hi = _mm512_maskz_loadu_epi8(_cvtu64_mask64(~uint64_t{0} >> (128 - kNeed)), b + 64);
    h = _mm512_permutex2var_epi16(_mm512_loadu_si512(b), idx, hi);
  }
  return _mm256_cvtph_ps(_mm512_castsi512_si128(h));
}

inline float sum(__m512 a, __m512 b) { return _mm512_reduce_add_ps(_mm512_add_ps(a, b)); }
// Four accumulators: a super-block's four chunks each add to their own chain, so the FMA latency (4
// cycles) does not bound a super-block at 8 cycles.
inline float sum4x(const __m512* a) { return sum(_mm512_add_ps(a[0], a[2]), _mm512_add_ps(a[1], a[3])); }
inline float sum8(__m256 a) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}
inline float sum4(__m128 a) {
  const __m128 t = _mm_add_ps(a, _mm_movehl_ps(a, a));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

template <float (*Row)(const uint8_t*, int64_t, const X8&), int64_t kValues>
void gemv(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* x8, float* y) {
  const X8 x = view(x8, cols);
  for (int64_t r = 0; r < rows; ++r) y[r] = Row(w + r * stride, cols / kValues, x);
}

}  // namespace mla::simd::x8

#pragma GCC pop_options
