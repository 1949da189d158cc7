// AVX-512 kernels (see simd.h). The binary targets baseline x86-64: only this file's functions after
// the `#pragma GCC target` are compiled for AVX-512, and callers reach them only after avx512_cpu().
// No standard-library template is used after the pragma, so no AVX-512 copy of an inline function
// can be picked by the linker for code that runs on other CPUs.
#include "kernels/simd.h"

#include <immintrin.h>

#include <cstdint>

#include "kernels/simd_prefetch.h"
#include "kernels/simd_x8.h"

namespace mla::simd {

bool avx512_cpu() {
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  }();
  return ok;
}

bool avx512_vnni_cpu() {
  static const bool ok = avx512_cpu() && __builtin_cpu_supports("avx512vnni");
  return ok;
}

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,fma,f16c")
// GCC 12's own intrinsic headers trip these (the `__Y = __Y` idiom of _mm512_undefined_ps).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace {

inline __mmask16 tail_mask(int64_t n) { return static_cast<__mmask16>((1u << n) - 1); }

// Loaders: 16 stored values widened to f32 (bf16: zero-extend to 32 bits and shift into the high half).
struct Bf16 {
  using T = uint16_t;
  static __m512 load(const T* p) {
    return _mm512_castsi512_ps(
        _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
  }
  static __m512 loadm(const T* p, __mmask16 m) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
  }
  // 32 values in one load, split by parity without a cross-lane widening: value 2i lies in the low
  // half of dword i (shifted up), value 2i + 1 in its high half (masked).
  static constexpr bool kPairs = true;
  static void load_pairs(const T* p, __m512& even, __m512& odd) {
    const __m512i x = _mm512_loadu_si512(p);
    even = _mm512_castsi512_ps(_mm512_slli_epi32(x, 16));
    odd = _mm512_castsi512_ps(_mm512_and_si512(x, _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
  }
};
struct F16 {
  using T = uint16_t;
  static constexpr bool kPairs = false;
  static __m512 load(const T* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static __m512 loadm(const T* p, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }
};
struct F32 {
  using T = float;
  static constexpr bool kPairs = false;
  static __m512 load(const T* p) { return _mm512_loadu_ps(p); }
  static __m512 loadm(const T* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
};

// Bytes ahead of the current read that the row stream prefetches. Measured on the 2-core EPYC (a
// 10944 x 2048 bf16 matvec, 8 matrices, best of 10; docs/KERNELS.md): no prefetch ~38 GB/s, 512 B
// ~44-49 GB/s, 1 KiB ~46-47 GB/s, with `read` at 48-50 GB/s. Rows run on into the next row of the
// same contiguous range, so the prefetch past a row's end is useful too (and never faults).
constexpr int64_t kPrefetchBytes = 1024;

// One row at a time, 4 accumulators (64 columns per step). Deliberately not several rows per step
// sharing each x load: decode is memory-bound and, measured, 4 interleaved row streams per thread
// ran at ~35 GB/s against ~42 GB/s for one sequential stream (x stays in L1 either way).
template <class L>
inline float gemv_row(const typename L::T* w, int64_t cols, const float* x) {
  using T = typename L::T;
  constexpr int64_t kAhead = kPrefetchBytes / sizeof(T);
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t k = 0;
  for (; k + 64 <= cols; k += 64) {
    // 64 values are 128 (bf16/f16) or 256 (f32) bytes: prefetch every cache line of them.
    for (int64_t b = 0; b < 64 * static_cast<int64_t>(sizeof(T)); b += 64)
      _mm_prefetch(reinterpret_cast<const char*>(w + k + kAhead) + b, _MM_HINT_T0);
    a0 = _mm512_fmadd_ps(L::load(w + k), _mm512_loadu_ps(x + k), a0);
    a1 = _mm512_fmadd_ps(L::load(w + k + 16), _mm512_loadu_ps(x + k + 16), a1);
    a2 = _mm512_fmadd_ps(L::load(w + k + 32), _mm512_loadu_ps(x + k + 32), a2);
    a3 = _mm512_fmadd_ps(L::load(w + k + 48), _mm512_loadu_ps(x + k + 48), a3);
  }
  for (; k + 16 <= cols; k += 16) a0 = _mm512_fmadd_ps(L::load(w + k), _mm512_loadu_ps(x + k), a0);
  if (k < cols) {
    const __mmask16 m = tail_mask(cols - k);
    a1 = _mm512_fmadd_ps(L::loadm(w + k, m), _mm512_maskz_loadu_ps(m, x + k), a1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

template <class L>
void gemv(const typename L::T* w, int64_t stride, int64_t rows, int64_t cols, const float* x, float* y) {
  for (int64_t r = 0; r < rows; ++r) y[r] = gemv_row<L>(w + r * stride, cols, x);
}

// R weight rows x N inputs, K columns: R * N accumulators, R + 1 live loads per 16 columns.
template <int R, int N>
inline void gemm_micro(const float* T, int64_t ldt, int64_t K, const float* X, int64_t ldx, float* Y, int64_t ldy) {
  __m512 acc[R][N];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int i = 0; i < N; ++i) acc[r][i] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    __m512 w[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) w[r] = _mm512_loadu_ps(T + r * ldt + k);
#pragma GCC unroll 8
    for (int i = 0; i < N; ++i) {
      const __m512 xv = _mm512_loadu_ps(X + i * ldx + k);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][i] = _mm512_fmadd_ps(w[r], xv, acc[r][i]);
    }
  }
  if (k < K) {
    const __mmask16 m = tail_mask(K - k);
    __m512 w[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) w[r] = _mm512_maskz_loadu_ps(m, T + r * ldt + k);
#pragma GCC unroll 8
    for (int i = 0; i < N; ++i) {
      const __m512 xv = _mm512_maskz_loadu_ps(m, X + i * ldx + k);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][i] = _mm512_fmadd_ps(w[r], xv, acc[r][i]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < N; ++i)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) Y[i * ldy + r] = _mm512_reduce_add_ps(acc[r][i]);
}

template <int N>
inline void gemm_rows4(const float* T, int64_t ldt, int64_t nr, int64_t K, const float* X, int64_t ldx, float* Y,
                       int64_t ldy) {
  if (nr >= 4) {
    gemm_micro<4, N>(T, ldt, K, X, ldx, Y, ldy);
    return;
  }
  float tmp[4 * N];  // padded rows: compute 4, keep nr
  gemm_micro<4, N>(T, ldt, K, X, ldx, tmp, 4);
  for (int i = 0; i < N; ++i)
    for (int64_t r = 0; r < nr; ++r) Y[i * ldy + r] = tmp[i * 4 + r];
}

// Sums of 16 vectors at once: returns r with r[4k + m] = sum of the lanes of a[4m + k] (a transpose
// folded into the reduction tree: 15 adds and 30 shuffles for 16 sums, against ~10 ops for each one
// reduced on its own).
inline __m512 reduce16(const __m512* a) {
  __m512 b[8], c[4];
  // b[i]: 256-bit halves = a[2i] lo + hi | a[2i+1] lo + hi
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i)
    b[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0x44), _mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0xee));
  // c[i]: 128-bit lane k = the 4 partial sums of a[4i + k]
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i)
    c[i] = _mm512_add_ps(_mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], 0x88), _mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], 0xdd));
  // Within each 128-bit lane k: [c0 ; c1 ; c2 ; c3] summed -> a[k], a[4 + k], a[8 + k], a[12 + k].
  const __m512 d0 = _mm512_add_ps(_mm512_unpacklo_ps(c[0], c[1]), _mm512_unpackhi_ps(c[0], c[1]));
  const __m512 d1 = _mm512_add_ps(_mm512_unpacklo_ps(c[2], c[3]), _mm512_unpackhi_ps(c[2], c[3]));
  return _mm512_add_ps(_mm512_shuffle_ps(d0, d1, 0x44), _mm512_shuffle_ps(d0, d1, 0xee));
}

// H heads x J keys of q·k into s[h * ld + j] (times scale). With 4 x 4 the 16 accumulators are
// reduced together (reduce16: accumulator 4j + h lands in lane 4h + j, i.e. head h's 4 scores in
// 128-bit lane h); other shapes (the edges) reduce each accumulator.
// pf: where the next keys start (prefetched into L1 one line per key per 16 dims, so the DRAM stream
// of the cache overlaps this tile's FMAs), or nullptr.
template <int H, int J, class L>
inline void scores_micro(const float* q, int64_t d_k, const typename L::T* k, int64_t stride, float scale, float* s,
                         int64_t ld, const typename L::T* pf) {
  __m512 acc[J][H];
#pragma GCC unroll 4
  for (int j = 0; j < J; ++j)
#pragma GCC unroll 4
    for (int h = 0; h < H; ++h) acc[j][h] = _mm512_setzero_ps();
  int64_t d = 0;
  for (; d + 16 <= d_k; d += 16) {
    __m512 kv[J];
#pragma GCC unroll 4
    for (int j = 0; j < J; ++j) kv[j] = L::load(k + j * stride + d);
    if (pf)
#pragma GCC unroll 4
      for (int j = 0; j < J; ++j) _mm_prefetch(reinterpret_cast<const char*>(pf + j * stride + d), _MM_HINT_T0);
#pragma GCC unroll 4
    for (int h = 0; h < H; ++h) {
      const __m512 qv = _mm512_loadu_ps(q + h * d_k + d);
#pragma GCC unroll 4
      for (int j = 0; j < J; ++j) acc[j][h] = _mm512_fmadd_ps(qv, kv[j], acc[j][h]);
    }
  }
  if (d < d_k) {
    const __mmask16 m = tail_mask(d_k - d);
    __m512 kv[J];
#pragma GCC unroll 4
    for (int j = 0; j < J; ++j) kv[j] = L::loadm(k + j * stride + d, m);
#pragma GCC unroll 4
    for (int h = 0; h < H; ++h) {
      const __m512 qv = _mm512_maskz_loadu_ps(m, q + h * d_k + d);
#pragma GCC unroll 4
      for (int j = 0; j < J; ++j) acc[j][h] = _mm512_fmadd_ps(qv, kv[j], acc[j][h]);
    }
  }
  if constexpr (H == 4 && J == 4) {
    const __m512 r = _mm512_mul_ps(reduce16(&acc[0][0]), _mm512_set1_ps(scale));
    _mm_storeu_ps(s, _mm512_castps512_ps128(r));
    _mm_storeu_ps(s + ld, _mm512_extractf32x4_ps(r, 1));
    _mm_storeu_ps(s + 2 * ld, _mm512_extractf32x4_ps(r, 2));
    _mm_storeu_ps(s + 3 * ld, _mm512_extractf32x4_ps(r, 3));
  } else {
#pragma GCC unroll 4
    for (int h = 0; h < H; ++h)
#pragma GCC unroll 4
      for (int j = 0; j < J; ++j) s[h * ld + j] = _mm512_reduce_add_ps(acc[j][h]) * scale;
  }
}

// A block of kKeyBlock keys (4 at a time) against all G heads: the block's rows stay in L1 while
// every head group passes over them, and each head group's q rows (4 x d_k) stay in L1 across the
// block's 4-key tiles. The first head group prefetches the next block (pf).
constexpr int64_t kKeyBlock = 8;

template <class L>
inline void scores_block(const float* q, int64_t G, int64_t d_k, const typename L::T* k, int64_t stride, int64_t n,
                         float scale, float* s, int64_t ld, const typename L::T* pf) {
  int64_t h = 0;
  for (; h + 4 <= G; h += 4, pf = nullptr) {
    int64_t j = 0;
    for (; j + 4 <= n; j += 4)
      scores_micro<4, 4, L>(q + h * d_k, d_k, k + j * stride, stride, scale, s + h * ld + j, ld, pf ? pf + j * stride : nullptr);
    for (; j < n; ++j) scores_micro<4, 1, L>(q + h * d_k, d_k, k + j * stride, stride, scale, s + h * ld + j, ld, nullptr);
  }
  for (; h < G; ++h, pf = nullptr) {
    int64_t j = 0;
    for (; j + 4 <= n; j += 4)
      scores_micro<1, 4, L>(q + h * d_k, d_k, k + j * stride, stride, scale, s + h * ld + j, ld, pf ? pf + j * stride : nullptr);
    for (; j < n; ++j) scores_micro<1, 1, L>(q + h * d_k, d_k, k + j * stride, stride, scale, s + h * ld + j, ld, nullptr);
  }
}

// H heads x D vectors of 16 dims (the last one masked by m), accumulated over n value rows (row j's
// values start at value `offset` of rows[j]); head h's weight for row j is p[h * ph + j * pj].
template <int H, int D, class L>
inline void accumulate_micro(const float* p, int64_t ph, int64_t pj, const uint8_t* const* rows, int64_t offset,
                             int64_t n, float* acc, int64_t d_v, __mmask16 m) {
  __m512 a[H][D];
#pragma GCC unroll 4
  for (int h = 0; h < H; ++h)
#pragma GCC unroll 4
    for (int e = 0; e < D; ++e)
      a[h][e] = e == D - 1 ? _mm512_maskz_loadu_ps(m, acc + h * d_v + 16 * e) : _mm512_loadu_ps(acc + h * d_v + 16 * e);
  for (int64_t j = 0; j < n; ++j) {
    const typename L::T* vj = reinterpret_cast<const typename L::T*>(rows[j]) + offset;
    __m512 vv[D];
#pragma GCC unroll 4
    for (int e = 0; e < D; ++e) vv[e] = e == D - 1 ? L::loadm(vj + 16 * e, m) : L::load(vj + 16 * e);
#pragma GCC unroll 4
    for (int h = 0; h < H; ++h) {
      const __m512 w = _mm512_set1_ps(p[h * ph + j * pj]);
#pragma GCC unroll 4
      for (int e = 0; e < D; ++e) a[h][e] = _mm512_fmadd_ps(w, vv[e], a[h][e]);
    }
  }
#pragma GCC unroll 4
  for (int h = 0; h < H; ++h)
#pragma GCC unroll 4
    for (int e = 0; e < D; ++e) {
      if (e == D - 1)
        _mm512_mask_storeu_ps(acc + h * d_v + 16 * e, m, a[h][e]);
      else
        _mm512_storeu_ps(acc + h * d_v + 16 * e, a[h][e]);
    }
}

// One slice of D x 16 value dims for all G heads: the n x 64 slice of V stays in L1 while every
// head group passes over it.
template <int D, class L>
inline void accumulate_dims(const float* p, int64_t ph, int64_t pj, int64_t G, const uint8_t* const* rows,
                            int64_t offset, int64_t n, int64_t d_v, float* acc, __mmask16 m) {
  int64_t h = 0;
  for (; h + 4 <= G; h += 4) accumulate_micro<4, D, L>(p + h * ph, ph, pj, rows, offset, n, acc + h * d_v, d_v, m);
  for (; h < G; ++h) accumulate_micro<1, D, L>(p + h * ph, ph, pj, rows, offset, n, acc + h * d_v, d_v, m);
}

template <class L>
void scores_rows(const float* q, int64_t G, int64_t d_k, const typename L::T* k, int64_t stride, int64_t n, float scale,
                 float* scores, int64_t ld) {
  // Rows past n are prefetched too: the caller's next call reads them (and a prefetch never faults).
  for (int64_t j = 0; j < n; j += kKeyBlock)
    scores_block<L>(q, G, d_k, k + j * stride, stride, n - j < kKeyBlock ? n - j : kKeyBlock, scale, scores + j, ld,
                    k + (j + kKeyBlock) * stride);
}

template <class L>
void accumulate_rows(const float* p, int64_t ph, int64_t pj, int64_t G, const uint8_t* const* rows, int64_t offset,
                     int64_t n, int64_t d_v, float* acc) {
  int64_t d = 0;
  for (; d + 64 <= d_v; d += 64) accumulate_dims<4, L>(p, ph, pj, G, rows, offset + d, n, d_v, acc + d, 0xffff);
  for (; d < d_v; d += 16) {
    const int64_t left = d_v - d;
    accumulate_dims<1, L>(p, ph, pj, G, rows, offset + d, n, d_v, acc + d, left >= 16 ? 0xffff : tail_mask(left));
  }
}

// GGUF blocks (tensor/dtype.h) widened to f32 in registers: 32 values as two vectors, without the
// scale (applied once per block: sum_j q_j x_j is formed first, then times d).
struct Q8_0Blk {
  static constexpr int64_t kBytes = 34;
  static void load(const uint8_t* b, __m512& lo, __m512& hi) {
    lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2))));
    hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 18))));
  }
};
// Q4_0 nibbles become floats through one table lookup each (vpermps reads only the low 4 bits of
// every index, so the low nibble needs no mask): q -> q - 8 without integer subtracts or converts.
// Measured on the 2-core EPYC (`mla bench gemv`, 1 GiB set): 34 GB/s with and + sub + cvtdq2ps,
// see docs/KERNELS.md for the table after.
struct Q4_0Blk {
  static constexpr int64_t kBytes = 18;
  static void load(const uint8_t* b, __m512& lo, __m512& hi) {
    const __m512 table = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
    const __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2)));
    lo = _mm512_permutexvar_ps(q, table);                         // values 0..15: low nibbles
    hi = _mm512_permutexvar_ps(_mm512_srli_epi32(q, 4), table);  // values 16..31: high nibbles
  }
};

inline float block_scale(const uint8_t* b) {
  uint16_t h;
  __builtin_memcpy(&h, b, 2);
  return _cvtsh_ss(h);
}

// One row of `blocks` blocks dotted with x: two blocks per step on two accumulators, the row
// stream prefetched kPrefetchBytes ahead (one prefetch per block touches every cache line, as a
// block is at most 34 bytes).
template <class B>
inline float gemv_row_q(const uint8_t* w, int64_t blocks, const float* x) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0;
  int64_t i = 0;
  for (; i + 2 <= blocks; i += 2) {
    const uint8_t* b = w + i * B::kBytes;
    _mm_prefetch(reinterpret_cast<const char*>(b + kPrefetchBytes), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(b + B::kBytes + kPrefetchBytes), _MM_HINT_T0);
    const float* xb = x + i * 32;
    __m512 l0, h0, l1, h1;
    B::load(b, l0, h0);
    B::load(b + B::kBytes, l1, h1);
    const __m512 s0 = _mm512_fmadd_ps(h0, _mm512_loadu_ps(xb + 16), _mm512_mul_ps(l0, _mm512_loadu_ps(xb)));
    const __m512 s1 = _mm512_fmadd_ps(h1, _mm512_loadu_ps(xb + 48), _mm512_mul_ps(l1, _mm512_loadu_ps(xb + 32)));
    a0 = _mm512_fmadd_ps(s0, _mm512_set1_ps(block_scale(b)), a0);
    a1 = _mm512_fmadd_ps(s1, _mm512_set1_ps(block_scale(b + B::kBytes)), a1);
  }
  if (i < blocks) {
    const uint8_t* b = w + i * B::kBytes;
    __m512 l0, h0;
    B::load(b, l0, h0);
    const __m512 s0 = _mm512_fmadd_ps(h0, _mm512_loadu_ps(x + i * 32 + 16), _mm512_mul_ps(l0, _mm512_loadu_ps(x + i * 32)));
    a0 = _mm512_fmadd_ps(s0, _mm512_set1_ps(block_scale(b)), a0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

template <class B>
void gemv_q(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const float* x, float* y) {
  for (int64_t r = 0; r < rows; ++r) y[r] = gemv_row_q<B>(w + r * stride, cols / 32, x);
}

template <class B>
void dequant_q(const uint8_t* w, float* out, int64_t n) {
  for (int64_t i = 0; i < n / 32; ++i) {
    const uint8_t* b = w + i * B::kBytes;
    __m512 lo, hi;
    B::load(b, lo, hi);
    const __m512 d = _mm512_set1_ps(block_scale(b));
    _mm512_storeu_ps(out + 32 * i, _mm512_mul_ps(lo, d));
    _mm512_storeu_ps(out + 32 * i + 16, _mm512_mul_ps(hi, d));
  }
}

// Heads in lanes (16 query heads sharing every key row: absorbed MLA). J keys k_j = k + j * stride
// against one lane group: s[j * 16 + h] = sum_d qt[d * 16 + h] * k_j[d], qt = [d_k x 16] (the softmax
// scale folded in). Each q vector feeds J keys and each key value is one broadcast, so no horizontal
// sums are needed and the 16 x J result is already the layout the softmax and P·V want.
// pf: the J rows one sub-block on (prefetched, one line per row per 64 bytes of d), or nullptr.
// f32 keys: 4 dims per step, each key value a broadcast straight from memory.
struct LanesF32 {
  using T = float;
  template <int J>
  static void tile(const float* qt, int64_t d_k, const float* k, int64_t stride, float* s, const float* pf) {
    __m512 a[J];
#pragma GCC unroll 16
    for (int j = 0; j < J; ++j) a[j] = _mm512_setzero_ps();
    int64_t d = 0;
    for (; d + 4 <= d_k; d += 4) {  // 4 dims per step amortise the row offsets (j * stride) kept in registers
      if (pf) prefetch_rows_step<J, 16>(pf, stride, d / 4, d);
      const float* q = qt + 16 * d;
      const __m512 q0 = _mm512_load_ps(q), q1 = _mm512_load_ps(q + 16), q2 = _mm512_load_ps(q + 32),
                   q3 = _mm512_load_ps(q + 48);
#pragma GCC unroll 16
      for (int j = 0; j < J; ++j) {
        const float* kj = k + j * stride + d;
        a[j] = _mm512_fmadd_ps(q0, _mm512_set1_ps(kj[0]), a[j]);
        a[j] = _mm512_fmadd_ps(q1, _mm512_set1_ps(kj[1]), a[j]);
        a[j] = _mm512_fmadd_ps(q2, _mm512_set1_ps(kj[2]), a[j]);
        a[j] = _mm512_fmadd_ps(q3, _mm512_set1_ps(kj[3]), a[j]);
      }
    }
    for (; d < d_k; ++d) {
      const __m512 q0 = _mm512_load_ps(qt + 16 * d);
#pragma GCC unroll 16
      for (int j = 0; j < J; ++j) a[j] = _mm512_fmadd_ps(q0, _mm512_set1_ps(k[j * stride + d]), a[j]);
    }
#pragma GCC unroll 16
    for (int j = 0; j < J; ++j) _mm512_store_ps(s + 16 * j, a[j]);
  }
};

// bf16 values broadcast to all 16 lanes as f32, two adjacent ones (pair) or one: one 32-bit
// broadcast holds both; shifting the low half up and masking the high half widens each. (f16 the
// same way, a vpbroadcastw + vcvtph2ps per value, measured 50% of the roofline against 69% for the
// 4 x 4 tiles reading f16 in place, so f16 stays on those: attention.cpp.)
struct Bf16Bcast {
  static void pair(const uint16_t* p, __m512& lo, __m512& hi) {
    int32_t w;
    __builtin_memcpy(&w, p, 4);
    const __m512i b = _mm512_set1_epi32(w);
    lo = _mm512_castsi512_ps(_mm512_slli_epi32(b, 16));
    hi = _mm512_castsi512_ps(_mm512_and_si512(b, _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
  }
  static __m512 one(const uint16_t* p) { return _mm512_castsi512_ps(_mm512_set1_epi32(static_cast<int>(*p) << 16)); }
};

// 16-bit keys (B widens them), two dims per step.
template <class B>
struct Lanes16 {
  using T = uint16_t;
  template <int J>
  static void tile(const float* qt, int64_t d_k, const uint16_t* k, int64_t stride, float* s, const uint16_t* pf) {
    __m512 a[J];
#pragma GCC unroll 16
    for (int j = 0; j < J; ++j) a[j] = _mm512_setzero_ps();
    int64_t d = 0;
    for (; d + 2 <= d_k; d += 2) {
      if (pf) prefetch_rows_step<J, 4>(pf, stride, d / 2, d);
      const __m512 q0 = _mm512_load_ps(qt + 16 * d), q1 = _mm512_load_ps(qt + 16 * d + 16);
#pragma GCC unroll 16
      for (int j = 0; j < J; ++j) {
        __m512 lo, hi;
        B::pair(k + j * stride + d, lo, hi);
        a[j] = _mm512_fmadd_ps(q0, lo, a[j]);
        a[j] = _mm512_fmadd_ps(q1, hi, a[j]);
      }
    }
    if (d < d_k) {  // odd d_k: the last dim alone (reading its pair would run past the row)
      const __m512 q0 = _mm512_load_ps(qt + 16 * d);
#pragma GCC unroll 16
      for (int j = 0; j < J; ++j) a[j] = _mm512_fmadd_ps(q0, B::one(k + j * stride + d), a[j]);
    }
#pragma GCC unroll 16
    for (int j = 0; j < J; ++j) _mm512_store_ps(s + 16 * j, a[j]);
  }
};

// n keys as tiles of 16, then 8, 4, 2, 1 (n < 16 left); K: LanesF32 or Lanes16<...>.
template <class K>
inline void scores_lanes(const float* qt, int64_t d_k, const typename K::T* k, int64_t stride, int64_t n, float* s,
                         const typename K::T* pf) {
  auto at = [&](int64_t j) { return pf ? pf + j * stride : nullptr; };
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) K::template tile<16>(qt, d_k, k + j * stride, stride, s + 16 * j, at(j));
  if (n - j >= 8) K::template tile<8>(qt, d_k, k + j * stride, stride, s + 16 * j, at(j)), j += 8;
  if (n - j >= 4) K::template tile<4>(qt, d_k, k + j * stride, stride, s + 16 * j, at(j)), j += 4;
  if (n - j >= 2) K::template tile<2>(qt, d_k, k + j * stride, stride, s + 16 * j, at(j)), j += 2;
  if (n - j >= 1) K::template tile<1>(qt, d_k, k + j * stride, stride, s + 16 * j, at(j));
}

// P·V with the heads in lanes over 16-bit rows: at[d * 16 + h] += sum_j p[j * 16 + h] * v_j[d] for
// D dims held in registers while all n rows pass (v_j = rows[j] + offset, in values). The mirror of
// Lanes16::tile: each weight vector feeds D dims, each broadcast widens one or two of them.
template <int D, class B>
inline void accumulate_lanes(const float* p, int64_t n, const uint8_t* const* rows, int64_t offset, float* at) {
  __m512 a[D];
#pragma GCC unroll 16
  for (int e = 0; e < D; ++e) a[e] = _mm512_load_ps(at + 16 * e);
  for (int64_t j = 0; j < n; ++j) {
    const uint16_t* v = reinterpret_cast<const uint16_t*>(rows[j]) + offset;
    const __m512 w = _mm512_load_ps(p + 16 * j);
#pragma GCC unroll 8
    for (int e = 0; e + 1 < D; e += 2) {
      __m512 lo, hi;
      B::pair(v + e, lo, hi);
      a[e] = _mm512_fmadd_ps(w, lo, a[e]);
      a[e + 1] = _mm512_fmadd_ps(w, hi, a[e + 1]);
    }
    if constexpr (D % 2 == 1) a[D - 1] = _mm512_fmadd_ps(w, B::one(v + D - 1), a[D - 1]);
  }
#pragma GCC unroll 16
  for (int e = 0; e < D; ++e) _mm512_store_ps(at + 16 * e, a[e]);
}

template <class B>
void accumulate_lanes_rows(const float* p, int64_t n, const uint8_t* const* rows, int64_t offset, int64_t d_v,
                           float* acc_t) {
  int64_t d = 0;
  for (; d + 16 <= d_v; d += 16) accumulate_lanes<16, B>(p, n, rows, offset + d, acc_t + 16 * d);
  if (d_v - d >= 8) accumulate_lanes<8, B>(p, n, rows, offset + d, acc_t + 16 * d), d += 8;
  if (d_v - d >= 4) accumulate_lanes<4, B>(p, n, rows, offset + d, acc_t + 16 * d), d += 4;
  if (d_v - d >= 2) accumulate_lanes<2, B>(p, n, rows, offset + d, acc_t + 16 * d), d += 2;
  if (d_v - d >= 1) accumulate_lanes<1, B>(p, n, rows, offset + d, acc_t + 16 * d);
}

// e^x for x <= 0 (scores minus their running maximum), 16 lanes: x = n ln2 + r with |r| <= ln2 / 2,
// e^r by its degree-6 Taylor polynomial (relative error < 2e-7 there), times 2^n by vscalefps.
// Inputs below -103 give 0 (as e^x rounds to 0 in f32 there); -inf gives 0.
inline __m512 exp_neg(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-103.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);  // ln2 split in two parts:
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), r);  // n * hi is exact
  __m512 p = _mm512_set1_ps(1.0f / 720);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// Heads in lanes with one key slice per query head (MHA / GQA, simd.h: attn_scores_heads). One row
// at a time, whole: accumulator x holds head 4 (x % 4) + x / 4, so that reduce16 (lane 4k + m = the
// sum of accumulator 4m + k) lands head i in lane i. Four heads at a time, each on its own chain over
// d, so the FMA latency is hidden without a register per (head, dim block).
template <class L>
void scores_heads(const float* q, const int64_t* k_off, int64_t d_k, const uint8_t* const* rows, int64_t n,
                  int64_t n_listed, int64_t row_bytes, float* s) {
  using T = typename L::T;
  // Rows prefetched ahead, whole (into L2, V included, for the P·V pass), a quarter of the row per
  // 4-head step: spread out rather than in one burst per row (measured faster: docs/KERNELS.md 7).
  constexpr int64_t kAhead = 4;
  const int64_t full = d_k & ~int64_t{15};
  const __mmask16 tail = tail_mask(d_k - full);
  for (int64_t j = 0; j < n; ++j) {
    const T* r = reinterpret_cast<const T*>(rows[j]);
    __m512 acc[16];
#pragma GCC unroll 4
    for (int g = 0; g < 4; ++g) {
      const float* qh[4];
      const T* kh[4];
#pragma GCC unroll 4
      for (int t = 0; t < 4; ++t) {  // accumulator 4t + g holds head 4g + t
        qh[t] = q + (4 * g + t) * d_k;
        kh[t] = r + k_off[4 * g + t];
      }
      if (j + kAhead < n_listed)
        for (int64_t o = g * row_bytes / 4; o < (g + 1) * row_bytes / 4; o += 64)
          _mm_prefetch(reinterpret_cast<const char*>(rows[j + kAhead]) + o, _MM_HINT_T1);
      __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      int64_t d = 0;
      if constexpr (L::kPairs)  // q's full 32-dim blocks stored as 16 even dims, then 16 odd dims
        for (; d + 32 <= full; d += 32) {
          __m512 e0, o0, e1, o1, e2, o2, e3, o3;
          L::load_pairs(kh[0] + d, e0, o0);
          L::load_pairs(kh[1] + d, e1, o1);
          L::load_pairs(kh[2] + d, e2, o2);
          L::load_pairs(kh[3] + d, e3, o3);
          a0 = _mm512_fmadd_ps(_mm512_loadu_ps(qh[0] + d + 16), o0, _mm512_fmadd_ps(_mm512_loadu_ps(qh[0] + d), e0, a0));
          a1 = _mm512_fmadd_ps(_mm512_loadu_ps(qh[1] + d + 16), o1, _mm512_fmadd_ps(_mm512_loadu_ps(qh[1] + d), e1, a1));
          a2 = _mm512_fmadd_ps(_mm512_loadu_ps(qh[2] + d + 16), o2, _mm512_fmadd_ps(_mm512_loadu_ps(qh[2] + d), e2, a2));
          a3 = _mm512_fmadd_ps(_mm512_loadu_ps(qh[3] + d + 16), o3, _mm512_fmadd_ps(_mm512_loadu_ps(qh[3] + d), e3, a3));
        }
      for (; d < full; d += 16) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(qh[0] + d), L::load(kh[0] + d), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(qh[1] + d), L::load(kh[1] + d), a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(qh[2] + d), L::load(kh[2] + d), a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(qh[3] + d), L::load(kh[3] + d), a3);
      }
      if (tail) {
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, qh[0] + d), L::loadm(kh[0] + d, tail), a0);
        a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, qh[1] + d), L::loadm(kh[1] + d, tail), a1);
        a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, qh[2] + d), L::loadm(kh[2] + d, tail), a2);
        a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, qh[3] + d), L::loadm(kh[3] + d, tail), a3);
      }
      acc[g] = a0, acc[4 + g] = a1, acc[8 + g] = a2, acc[12 + g] = a3;
    }
    _mm512_store_ps(s + 16 * j, reduce16(acc));
  }
}

// acc[i * d_v + d] += sum_j p[j * 16 + i] * v_{j,i}[d] (simd.h: attn_accumulate_heads): per head, 64
// dims in 4 registers while the n rows pass (4 independent chains), masked at the end of d_v.
template <class L>
void accumulate_heads(const float* p, int64_t heads, const int64_t* v_off, const uint8_t* const* rows, int64_t n,
                      int64_t d_v, float* acc) {
  using T = typename L::T;
  // bf16: 32 dims per load, split by parity (Bf16::load_pairs) into an even and an odd accumulator,
  // de-interleaved from acc before the rows pass and interleaved back after.
  const __m512i even_of = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd_of = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512i lo_of = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi_of = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const int64_t paired = L::kPairs ? d_v & ~int64_t{31} : 0;
  for (int64_t i = 0; i < heads; ++i) {
    float* out = acc + i * d_v;
    if constexpr (L::kPairs)
      for (int64_t d0 = 0; d0 < paired; d0 += 32) {
        const __m512 n0 = _mm512_loadu_ps(out + d0), n1 = _mm512_loadu_ps(out + d0 + 16);
        __m512 ae = _mm512_permutex2var_ps(n0, even_of, n1), ao = _mm512_permutex2var_ps(n0, odd_of, n1);
        __m512 be = _mm512_setzero_ps(), bo = be;  // a second pair of chains: rows alternate
        int64_t j = 0;
        for (; j + 2 <= n; j += 2) {
          __m512 e, o, e2, o2;
          L::load_pairs(reinterpret_cast<const T*>(rows[j]) + v_off[i] + d0, e, o);
          L::load_pairs(reinterpret_cast<const T*>(rows[j + 1]) + v_off[i] + d0, e2, o2);
          const __m512 w = _mm512_set1_ps(p[16 * j + i]), w2 = _mm512_set1_ps(p[16 * (j + 1) + i]);
          ae = _mm512_fmadd_ps(w, e, ae), ao = _mm512_fmadd_ps(w, o, ao);
          be = _mm512_fmadd_ps(w2, e2, be), bo = _mm512_fmadd_ps(w2, o2, bo);
        }
        if (j < n) {
          __m512 e, o;
          L::load_pairs(reinterpret_cast<const T*>(rows[j]) + v_off[i] + d0, e, o);
          const __m512 w = _mm512_set1_ps(p[16 * j + i]);
          ae = _mm512_fmadd_ps(w, e, ae), ao = _mm512_fmadd_ps(w, o, ao);
        }
        ae = _mm512_add_ps(ae, be), ao = _mm512_add_ps(ao, bo);
        _mm512_storeu_ps(out + d0, _mm512_permutex2var_ps(ae, lo_of, ao));
        _mm512_storeu_ps(out + d0 + 16, _mm512_permutex2var_ps(ae, hi_of, ao));
      }
    for (int64_t d0 = paired; d0 < d_v; d0 += 64) {
      __mmask16 m[4];
      __m512 a[4];
#pragma GCC unroll 4
      for (int e = 0; e < 4; ++e) {
        const int64_t left = d_v - d0 - 16 * e;
        m[e] = left >= 16 ? __mmask16{0xffff} : left > 0 ? tail_mask(left) : __mmask16{0};
        a[e] = _mm512_maskz_loadu_ps(m[e], out + d0 + 16 * e);
      }
      for (int64_t j = 0; j < n; ++j) {
        const __m512 w = _mm512_set1_ps(p[16 * j + i]);
        const T* v = reinterpret_cast<const T*>(rows[j]) + v_off[i] + d0;
#pragma GCC unroll 4
        for (int e = 0; e < 4; ++e) a[e] = _mm512_fmadd_ps(w, L::loadm(v + 16 * e, m[e]), a[e]);
      }
#pragma GCC unroll 4
      for (int e = 0; e < 4; ++e) _mm512_mask_storeu_ps(out + d0 + 16 * e, m[e], a[e]);
    }
  }
}

}  // namespace

void attn_scores_heads(RowType t, const float* q, const int64_t* k_off, int64_t d_k, const uint8_t* const* rows,
                       int64_t n, int64_t n_listed, int64_t row_bytes, float* s) {
  switch (t) {
    case RowType::F32: return scores_heads<F32>(q, k_off, d_k, rows, n, n_listed, row_bytes, s);
    case RowType::BF16: return scores_heads<Bf16>(q, k_off, d_k, rows, n, n_listed, row_bytes, s);
    case RowType::F16: return scores_heads<F16>(q, k_off, d_k, rows, n, n_listed, row_bytes, s);
  }
}

void attn_accumulate_heads(RowType t, const float* p, int64_t heads, const int64_t* v_off, const uint8_t* const* rows,
                           int64_t n, int64_t d_v, float* acc) {
  switch (t) {
    case RowType::F32: return accumulate_heads<F32>(p, heads, v_off, rows, n, d_v, acc);
    case RowType::BF16: return accumulate_heads<Bf16>(p, heads, v_off, rows, n, d_v, acc);
    case RowType::F16: return accumulate_heads<F16>(p, heads, v_off, rows, n, d_v, acc);
  }
}


void gemv_bf16(const uint16_t* w, int64_t stride, int64_t rows, int64_t cols, const float* x, float* y) {
  gemv<Bf16>(w, stride, rows, cols, x, y);
}
void gemv_f16(const uint16_t* w, int64_t stride, int64_t rows, int64_t cols, const float* x, float* y) {
  gemv<F16>(w, stride, rows, cols, x, y);
}
void gemv_f32(const float* w, int64_t stride, int64_t rows, int64_t cols, const float* x, float* y) {
  gemv<F32>(w, stride, rows, cols, x, y);
}

void gemv_q8_0(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const float* x, float* y) {
  gemv_q<Q8_0Blk>(w, stride, rows, cols, x, y);
}
void gemv_q4_0(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const float* x, float* y) {
  gemv_q<Q4_0Blk>(w, stride, rows, cols, x, y);
}
void q8_0_to_f32(const uint8_t* in, float* out, int64_t n) { dequant_q<Q8_0Blk>(in, out, n); }
void q4_0_to_f32(const uint8_t* in, float* out, int64_t n) { dequant_q<Q4_0Blk>(in, out, n); }

void fp8_e4m3_to_f32(const uint8_t* codes, float scale, float* out, int64_t n) {
  const __m256i low7 = _mm256_set1_epi16(0x7f), sign = _mm256_set1_epi16(0x80);
  const __m512 s = _mm512_set1_ps(scale * 256.0f), nan = _mm512_set1_ps(__builtin_nanf(""));
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16{0xffff} : tail_mask(n - i);
    const __m256i w = _mm256_cvtepu8_epi16(_mm_maskz_loadu_epi8(m, codes + i));
    const __m256i mag = _mm256_and_si256(w, low7);
    const __m256i h = _mm256_or_si256(_mm256_slli_epi16(mag, 7), _mm256_slli_epi16(_mm256_and_si256(w, sign), 8));
    const __m512 v = _mm512_mask_mov_ps(_mm512_mul_ps(_mm512_cvtph_ps(h), s), _mm256_cmpeq_epi16_mask(mag, low7), nan);
    _mm512_mask_storeu_ps(out + i, m, v);
  }
}

void bf16_to_f32(const uint16_t* in, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, Bf16::load(in + i));
  if (i < n) _mm512_mask_storeu_ps(out + i, tail_mask(n - i), Bf16::loadm(in + i, tail_mask(n - i)));
}

void f16_to_f32(const uint16_t* in, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, F16::load(in + i));
  if (i < n) _mm512_mask_storeu_ps(out + i, tail_mask(n - i), F16::loadm(in + i, tail_mask(n - i)));
}

float dot_f32(const float* a, const float* b, int64_t n) { return gemv_row<F32>(a, n, b); }

void axpy_f32(float alpha, const float* x, float* y, int64_t n) {
  const __m512 av = _mm512_set1_ps(alpha);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

void axpy_bf16(float alpha, const uint16_t* x, float* y, int64_t n) {
  const __m512 av = _mm512_set1_ps(alpha);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, Bf16::load(x + i), _mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(av, Bf16::loadm(x + i, m), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

void gemm_tile(const float* T, int64_t ldt, int64_t nr, int64_t K, const float* X, int64_t ldx, int64_t n, float* Y,
               int64_t ldy) {
  // Inputs in blocks of 6 (kept in L1 while every 4-row slice of the tile passes over them).
  for (int64_t i0 = 0; i0 < n; i0 += 6) {
    const int64_t ni = n - i0 < 6 ? n - i0 : 6;
    for (int64_t r0 = 0; r0 < nr; r0 += 4) {
      const float* t = T + r0 * ldt;
      const float* x = X + i0 * ldx;
      float* y = Y + i0 * ldy + r0;
      const int64_t rr = nr - r0;
      switch (ni) {
        case 6: gemm_rows4<6>(t, ldt, rr, K, x, ldx, y, ldy); break;
        case 5: gemm_rows4<5>(t, ldt, rr, K, x, ldx, y, ldy); break;
        case 4: gemm_rows4<4>(t, ldt, rr, K, x, ldx, y, ldy); break;
        case 3: gemm_rows4<3>(t, ldt, rr, K, x, ldx, y, ldy); break;
        case 2: gemm_rows4<2>(t, ldt, rr, K, x, ldx, y, ldy); break;
        default: gemm_rows4<1>(t, ldt, rr, K, x, ldx, y, ldy); break;
      }
    }
  }
}

void attn_scores(const float* q, int64_t G, int64_t d_k, const float* k, int64_t stride, int64_t n, float scale,
                 float* scores, int64_t ld) {
  scores_rows<F32>(q, G, d_k, k, stride, n, scale, scores, ld);
}
void attn_scores_bf16(const float* q, int64_t G, int64_t d_k, const uint16_t* k, int64_t stride, int64_t n, float scale,
                      float* scores, int64_t ld) {
  scores_rows<Bf16>(q, G, d_k, k, stride, n, scale, scores, ld);
}

void attn_scores_f16(const float* q, int64_t G, int64_t d_k, const uint16_t* k, int64_t stride, int64_t n, float scale,
                     float* scores, int64_t ld) {
  scores_rows<F16>(q, G, d_k, k, stride, n, scale, scores, ld);
}

void attn_accumulate(const float* p, int64_t ph, int64_t pj, int64_t G, const uint8_t* const* rows, int64_t offset,
                     int64_t n, int64_t d_v, float* acc) {
  accumulate_rows<F32>(p, ph, pj, G, rows, offset, n, d_v, acc);
}
void attn_accumulate_bf16(const float* p, int64_t ph, int64_t pj, int64_t G, const uint8_t* const* rows, int64_t offset,
                          int64_t n, int64_t d_v, float* acc) {
  accumulate_rows<Bf16>(p, ph, pj, G, rows, offset, n, d_v, acc);
}
void attn_accumulate_f16(const float* p, int64_t ph, int64_t pj, int64_t G, const uint8_t* const* rows, int64_t offset,
                         int64_t n, int64_t d_v, float* acc) {
  accumulate_rows<F16>(p, ph, pj, G, rows, offset, n, d_v, acc);
}

void attn_scores_lanes(const float* qt, int64_t d_k, const float* k, int64_t stride, int64_t n, float* s,
                       const float* pf) {
  scores_lanes<LanesF32>(qt, d_k, k, stride, n, s, pf);
}
void attn_scores_lanes_bf16(const float* qt, int64_t d_k, const uint16_t* k, int64_t stride, int64_t n, float* s,
                            const uint16_t* pf) {
  scores_lanes<Lanes16<Bf16Bcast>>(qt, d_k, k, stride, n, s, pf);
}

void attn_accumulate_lanes_bf16(const float* p, int64_t n, const uint8_t* const* rows, int64_t offset, int64_t d_v,
                                float* acc_t) {
  accumulate_lanes_rows<Bf16Bcast>(p, n, rows, offset, d_v, acc_t);
}

void scale_lanes(float* acc_t, int64_t d_v, const float* c) {
  const __m512 cv = _mm512_loadu_ps(c);
  for (int64_t d = 0; d < d_v; ++d) _mm512_store_ps(acc_t + 16 * d, _mm512_mul_ps(cv, _mm512_load_ps(acc_t + 16 * d)));
}

void attn_softmax_lanes(float* s, int64_t n, int64_t heads, float* m, float* l, float* c, bool bf16_weights) {
  const __mmask16 live = heads >= 16 ? __mmask16{0xffff} : tail_mask(heads);
  const __m512 m_old = _mm512_mask_loadu_ps(_mm512_set1_ps(0.0f), live, m);
  __m512 mx = m_old;
  for (int64_t j = 0; j < n; ++j) mx = _mm512_max_ps(mx, _mm512_load_ps(s + 16 * j));
  __m512 sum = _mm512_setzero_ps();
  const __m512i half = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1);
  const __m512i high = _mm512_set1_epi32(static_cast<int>(0xffff0000u));
  for (int64_t j = 0; j < n; ++j) {
    __m512 e = exp_neg(_mm512_sub_ps(_mm512_load_ps(s + 16 * j), mx));
    if (bf16_weights) {  // round to nearest even at 16 bits (e in [0, 1]: no NaN or overflow)
      const __m512i b = _mm512_castps_si512(e);
      const __m512i up = _mm512_add_epi32(half, _mm512_and_si512(_mm512_srli_epi32(b, 16), one));
      e = _mm512_castsi512_ps(_mm512_and_si512(_mm512_add_epi32(b, up), high));
    }
    _mm512_store_ps(s + 16 * j, e);
    sum = _mm512_add_ps(sum, e);
  }
  const __m512 corr = exp_neg(_mm512_sub_ps(m_old, mx));  // exactly 1 where the maximum held
  _mm512_mask_storeu_ps(l, live, _mm512_fmadd_ps(_mm512_maskz_loadu_ps(live, l), corr, sum));
  _mm512_mask_storeu_ps(m, live, mx);
  _mm512_mask_storeu_ps(c, live, corr);
}

float attn_softmax(float* s, int64_t n, float* m, float* l) {
  __m512 mx = _mm512_set1_ps(*m);
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(s + j));
  if (j < n) mx = _mm512_mask_max_ps(mx, tail_mask(n - j), mx, _mm512_maskz_loadu_ps(tail_mask(n - j), s + j));
  const float new_max = _mm512_reduce_max_ps(mx);
  const __m512 nm = _mm512_set1_ps(new_max);
  __m512 sum = _mm512_setzero_ps();
  for (j = 0; j + 16 <= n; j += 16) {
    const __m512 e = exp_neg(_mm512_sub_ps(_mm512_loadu_ps(s + j), nm));
    _mm512_storeu_ps(s + j, e);
    sum = _mm512_add_ps(sum, e);
  }
  if (j < n) {
    const __mmask16 t = tail_mask(n - j);
    const __m512 e = _mm512_maskz_mov_ps(t, exp_neg(_mm512_sub_ps(_mm512_maskz_loadu_ps(t, s + j), nm)));
    _mm512_mask_storeu_ps(s + j, t, e);
    sum = _mm512_add_ps(sum, e);
  }
  const float c = *m == new_max ? 1.0f : exp_neg(_mm512_set1_ps(*m - new_max))[0];
  *l = *l * c + _mm512_reduce_add_ps(sum);
  *m = new_max;
  return c;
}

void scale_f32(float* x, int64_t n, float c) {
  const __m512 cv = _mm512_set1_ps(c);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _mm512_mul_ps(cv, _mm512_loadu_ps(x + i)));
  if (i < n) _mm512_mask_storeu_ps(x + i, tail_mask(n - i), _mm512_mul_ps(cv, _mm512_maskz_loadu_ps(tail_mask(n - i), x + i)));
}

#pragma GCC diagnostic pop
#pragma GCC pop_options

// The VNNI kernels (simd.h: gemv_q*_vnni), in their own target region so that no function above can
// be compiled with VNNI instructions and reach a CPU without them.
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni,fma,f16c")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace {

// Prepared x, per pair of 32-value blocks (A, B): 64 bytes q_x, then 16 int32 accumulator starts
// (lane l: -off * the 4 q_x bytes that vpdpbusd sums into lane l); after all P pairs, 2P f32 d_x.
// A lone last block is paired with zeros (q_x = 0, d_x = 0). Byte order of the 64 q_x is the order
// the weight format lands its values in a zmm (XQ4 / XQ8 below), so each vpdpbusd lane sums 4
// products of one block.
constexpr int64_t kPairBytes = 128;
int64_t pairs_of(int64_t cols) { return (cols / 32 + 1) / 2; }

// Q4_0: a block's 16 bytes hold values j (low nibble) and j + 16 (high nibble). Two blocks load as
// [A, B, A, B] (two 128-bit broadcasts, the second masked), the upper half shifted right by 4, all
// masked to 4 bits: A0-15, B0-15, A16-31, B16-31.
struct XQ4 {
  static constexpr int64_t kBytes = 18;
  static constexpr uint8_t kOffset = 8;
  static int64_t at(int block, int half) { return half * 32 + block * 16; }
  static __m512i lanes() { return _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1); }
  static __m512i load(const uint8_t* a, const uint8_t* b) {
    const __m512i aaaa = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + 2)));
    const __m512i abab = _mm512_mask_broadcast_i32x4(aaaa, 0xF0F0, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2)));
    return _mm512_and_si512(_mm512_mask_srli_epi16(abab, 0xFFFF0000u, abab, 4), _mm512_set1_epi8(15));
  }
};
// IQ4_NL: Q4_0's block (d, then 16 bytes: code j low nibble, j + 16 high) with each code an index
// into 16 non-linear levels (kIq4nlValues), looked up as unsigned level + 128 by one vpshufb.
struct XIQ4NL : XQ4 {
  static constexpr uint8_t kOffset = 128;
  static __m512i load(const uint8_t* a, const uint8_t* b) { return _mm512_shuffle_epi8(x8::iq4_table(), XQ4::load(a, b)); }
};
// Q8_0: 32 int8 per block, as A0-31, B0-31; the sign-bit flip makes them unsigned q + 128.
struct XQ8 {
  static constexpr int64_t kBytes = 34;
  static constexpr uint8_t kOffset = 128;
  static int64_t at(int block, int half) { return block * 32 + half * 16; }
  static __m512i lanes() { return _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1); }
  static __m512i load(const uint8_t* a, const uint8_t* b) {
    const __m512i both = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + 2))),
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2)), 1);
    return _mm512_xor_si512(both, _mm512_set1_epi8(static_cast<char>(0x80)));
  }
};

// 32 values of x -> q_x (two 16-byte halves at q + F::at(block, 0 / 1)); returns d_x. As ggml's
// quantize_row_q8_0: d = max|x| / 127, q = round-to-nearest-even(x * 127 / max|x|).
template <class F>
float quantize_block(const float* x, int block, uint8_t* q) {
  const __m512 lo = _mm512_loadu_ps(x), hi = _mm512_loadu_ps(x + 16);
  const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(lo), _mm512_abs_ps(hi)));
  const __m512 inv = _mm512_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q + F::at(block, 0)),
                   _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(lo, inv))));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q + F::at(block, 1)),
                   _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(hi, inv))));
  return amax / 127.0f;
}

template <class F>
void quantize_x_for(const float* x, int64_t cols, uint8_t* xq) {
  const int64_t blocks = cols / 32, pairs = pairs_of(cols);
  float* d = reinterpret_cast<float*>(xq + pairs * kPairBytes);
  for (int64_t p = 0; p < pairs; ++p) {
    uint8_t* q = xq + p * kPairBytes;
    d[2 * p] = quantize_block<F>(x + 64 * p, 0, q);
    if (2 * p + 1 < blocks) {
      d[2 * p + 1] = quantize_block<F>(x + 64 * p + 32, 1, q);
    } else {
      d[2 * p + 1] = 0.0f;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q + F::at(1, 0)), _mm_setzero_si128());
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q + F::at(1, 1)), _mm_setzero_si128());
    }
    // Accumulator starts: -off * (sum of each lane's 4 q_x) = 0 - vpdpbusd(off bytes, q_x).
    const __m512i qx = _mm512_loadu_si512(q);
    const __m512i sums = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(static_cast<char>(F::kOffset)), qx);
    _mm512_storeu_si512(q + 64, _mm512_sub_epi32(_mm512_setzero_si512(), sums));
  }
}

// Blocks a and b of one row against prepared pair xp: 16 int32 lanes of exact q_w·q_x partial sums
// (accumulator started at the pair's offset correction), to f32, times each lane's d_w * d_x
// (scale: the block scales already spread to the lanes) into acc.
template <class F>
inline __m512 pair_dot(const uint8_t* a, const uint8_t* b, const uint8_t* xp, __m512 scale, __m512 acc) {
  const __m512i isum = _mm512_dpbusd_epi32(_mm512_loadu_si512(xp + 64), F::load(a, b), _mm512_loadu_si512(xp));
  return _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), scale, acc);
}

inline uint64_t f16_bits(const uint8_t* block) {
  uint16_t h;
  __builtin_memcpy(&h, block, 2);
  return h;
}

// One row: four blocks per step on two accumulators, their four d_w converted together (one
// vcvtph2ps, one multiply by the four d_x, then one vpermps per pair to spread them to the lanes);
// the stream prefetched kPrefetchBytes ahead (one prefetch per block touches every line). A last
// pair, and a lone last block copied next to a zero block (d_w = 0), take the same path.
template <class F>
float gemv_row_vnni(const uint8_t* w, int64_t blocks, const uint8_t* xq, const float* dx, __m512i lanes) {
  constexpr int64_t kB = F::kBytes;
  const __m512i lanes2 = _mm512_add_epi32(lanes, _mm512_set1_epi32(2));  // the second pair's scales
  __m512 a0 = _mm512_setzero_ps(), a1 = a0;
  auto scales = [&](const uint8_t* b, int64_t nb, int64_t i) {  // nb = 2 or 4 blocks from b, block index i
    if (nb == 4) return _mm512_castps128_ps512(_mm_mul_ps(_mm256_castps256_ps128(x8::block_d_m<kB, -1>(b)), _mm_loadu_ps(dx + i)));
    const uint64_t bits = f16_bits(b) | f16_bits(b + kB) << 16;
    const __m128 d = _mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(dx + i)));
    return _mm512_castps128_ps512(_mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi64_si128(static_cast<long long>(bits))), d));
  };
  int64_t i = 0;
  for (; i + 4 <= blocks; i += 4) {
    const uint8_t* b = w + i * kB;
    for (int64_t j = 0; j < 4; ++j) _mm_prefetch(reinterpret_cast<const char*>(b + j * kB + kPrefetchBytes), _MM_HINT_T0);
    const uint8_t* xp = xq + (i / 2) * kPairBytes;
    const __m512 s = scales(b, 4, i);
    a0 = pair_dot<F>(b, b + kB, xp, _mm512_permutexvar_ps(lanes, s), a0);
    a1 = pair_dot<F>(b + 2 * kB, b + 3 * kB, xp + kPairBytes, _mm512_permutexvar_ps(lanes2, s), a1);
  }
  uint8_t pad[2 * kB] = {};
  for (; i < blocks; i += 2) {
    const uint8_t* b = w + i * kB;
    if (i + 1 == blocks) b = static_cast<const uint8_t*>(__builtin_memcpy(pad, b, kB));
    a0 = pair_dot<F>(b, b + kB, xq + (i / 2) * kPairBytes, _mm512_permutexvar_ps(lanes, scales(b, 2, i)), a0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

template <class F>
void gemv_vnni(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* xq, float* y) {
  const float* dx = reinterpret_cast<const float*>(xq + pairs_of(cols) * kPairBytes);
  const __m512i lanes = F::lanes();
  for (int64_t r = 0; r < rows; ++r) y[r] = gemv_row_vnni<F>(w + r * stride, cols / 32, xq, dx, lanes);
}

}  // namespace

int64_t xq_bytes(int64_t cols) { return pairs_of(cols) * (kPairBytes + 2 * sizeof(float)); }

void quantize_x(XQuant f, const float* x, int64_t cols, uint8_t* xq) {
  switch (f) {
    case XQuant::ForQ4_0: return quantize_x_for<XQ4>(x, cols, xq);
    case XQuant::ForIQ4_NL: return quantize_x_for<XIQ4NL>(x, cols, xq);
    case XQuant::ForQ8_0: return quantize_x_for<XQ8>(x, cols, xq);
  }
}

void gemv_q8_0_vnni(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* xq, float* y) {
  gemv_vnni<XQ8>(w, stride, rows, cols, xq, y);
}
void gemv_q4_0_vnni(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* xq, float* y) {
  gemv_vnni<XQ4>(w, stride, rows, cols, xq, y);
}
void gemv_iq4_nl_vnni(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* xq, float* y) {
  gemv_vnni<XIQ4NL>(w, stride, rows, cols, xq, y);
}

#pragma GCC diagnostic pop
#pragma GCC pop_options

}  // namespace mla::simd
