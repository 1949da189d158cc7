// Small numeric helpers shared by the block quantizers (tensor/quantize.cpp, quants/quantize_*.cpp).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace mla {

// Round to nearest, ties to even, for |v| < 2^22 (ggml-quants.c nearest_int): adding 1.5 * 2^23
// puts the integer part in the low mantissa bits. Kept as ggml computes it so ties round alike.
inline int nearest_int(float v) {
  const float shifted = v + 12582912.0f;
  int32_t bits;
  std::memcpy(&bits, &shifted, 4);
  return (bits & 0x007fffff) - 0x00400000;
}

// The value of v[0, n) with the largest magnitude, sign kept (the first of equal magnitudes), as
// ggml's quantizers pick the value that maps to the end of the code range.
inline float largest_magnitude(int64_t n, const float* v) {
  float max = 0, amax = 0;
  for (int64_t i = 0; i < n; ++i)
    if (std::fabs(v[i]) > amax) {
      amax = std::fabs(v[i]);
      max = v[i];
    }
  return max;
}

// A block whose largest magnitude is below this is all zero (ggml-quants.c GROUP_MAX_EPS).
constexpr float kGroupMaxEps = 1e-15f;

}  // namespace mla
