// Small numeric helpers shared by the block quantizers (quantize_legacy.cpp, quantize_k.cpp).
#pragma once
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

// A block whose largest magnitude is below this is all zero (ggml-quants.c GROUP_MAX_EPS).
constexpr float kGroupMaxEps = 1e-15f;

}  // namespace mla
