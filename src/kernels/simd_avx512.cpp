// AVX-512 kernels (see simd.h). The binary targets baseline x86-64: only this file's functions after
// the `#pragma GCC target` are compiled for AVX-512, and callers reach them only after avx512_cpu().
// No standard-library template is used after the pragma, so no AVX-512 copy of an inline function
// can be picked by the linker for code that runs on other CPUs.
#include "kernels/simd.h"

#include <immintrin.h>

#include <cstdint>

namespace mla::simd {

bool avx512_cpu() {
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  }();
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
};
struct F16 {
  using T = uint16_t;
  static __m512 load(const T* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static __m512 loadm(const T* p, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }
};
struct F32 {
  using T = float;
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

// H heads x D vectors of 16 dims (the last one masked by m), accumulated over n value rows.
template <int H, int D, class L>
inline void accumulate_micro(const float* p, int64_t ld, const typename L::T* v, int64_t stride, int64_t n, float* acc,
                             int64_t d_v, __mmask16 m) {
  __m512 a[H][D];
#pragma GCC unroll 4
  for (int h = 0; h < H; ++h)
#pragma GCC unroll 4
    for (int e = 0; e < D; ++e)
      a[h][e] = e == D - 1 ? _mm512_maskz_loadu_ps(m, acc + h * d_v + 16 * e) : _mm512_loadu_ps(acc + h * d_v + 16 * e);
  for (int64_t j = 0; j < n; ++j) {
    const typename L::T* vj = v + j * stride;
    __m512 vv[D];
#pragma GCC unroll 4
    for (int e = 0; e < D; ++e) vv[e] = e == D - 1 ? L::loadm(vj + 16 * e, m) : L::load(vj + 16 * e);
#pragma GCC unroll 4
    for (int h = 0; h < H; ++h) {
      const __m512 ph = _mm512_set1_ps(p[h * ld + j]);
#pragma GCC unroll 4
      for (int e = 0; e < D; ++e) a[h][e] = _mm512_fmadd_ps(ph, vv[e], a[h][e]);
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
inline void accumulate_dims(const float* p, int64_t ld, int64_t G, const typename L::T* v, int64_t stride, int64_t n,
                            int64_t d_v, float* acc, __mmask16 m) {
  int64_t h = 0;
  for (; h + 4 <= G; h += 4) accumulate_micro<4, D, L>(p + h * ld, ld, v, stride, n, acc + h * d_v, d_v, m);
  for (; h < G; ++h) accumulate_micro<1, D, L>(p + h * ld, ld, v, stride, n, acc + h * d_v, d_v, m);
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
void accumulate_rows(const float* p, int64_t ld, int64_t G, const typename L::T* v, int64_t stride, int64_t n,
                     int64_t d_v, float* acc) {
  int64_t d = 0;
  for (; d + 64 <= d_v; d += 64) accumulate_dims<4, L>(p, ld, G, v + d, stride, n, d_v, acc + d, 0xffff);
  for (; d < d_v; d += 16) {
    const int64_t left = d_v - d;
    accumulate_dims<1, L>(p, ld, G, v + d, stride, n, d_v, acc + d, left >= 16 ? 0xffff : tail_mask(left));
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

}  // namespace

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

void attn_accumulate(const float* p, int64_t ld, int64_t G, const float* v, int64_t stride, int64_t n, int64_t d_v,
                     float* acc) {
  accumulate_rows<F32>(p, ld, G, v, stride, n, d_v, acc);
}
void attn_accumulate_bf16(const float* p, int64_t ld, int64_t G, const uint16_t* v, int64_t stride, int64_t n,
                          int64_t d_v, float* acc) {
  accumulate_rows<Bf16>(p, ld, G, v, stride, n, d_v, acc);
}
void attn_accumulate_f16(const float* p, int64_t ld, int64_t G, const uint16_t* v, int64_t stride, int64_t n,
                         int64_t d_v, float* acc) {
  accumulate_rows<F16>(p, ld, G, v, stride, n, d_v, acc);
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

}  // namespace mla::simd
