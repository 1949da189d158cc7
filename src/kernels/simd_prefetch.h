// Software prefetch of row tiles for the attention micro-kernels (simd_avx512.cpp, simd_attn_dot.cpp).
// Plain SSE prefetches: safe to include in any target region.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace mla::simd {

// Prefetches for step `step` of a J-row tile that reads kStepBytes of every row per step: over the
// steps of one 64-byte line, each of the J rows at pf (stride apart) gets that line fetched once.
template <int J, int kStepBytes, class T>
inline void prefetch_rows_step(const T* pf, int64_t stride, int64_t step, int64_t d) {
  constexpr int kStepsPerLine = 64 / kStepBytes, kPerStep = (J + kStepsPerLine - 1) / kStepsPerLine;
#pragma GCC unroll 4
  for (int i = 0; i < kPerStep; ++i) {
    const int64_t row = (step % kStepsPerLine) * kPerStep + i;
    if (row < J) _mm_prefetch(reinterpret_cast<const char*>(pf + row * stride + d), _MM_HINT_T0);
  }
}

}  // namespace mla::simd
