#include "tensor/quantize.h"

#include <algorithm>
#include <cmath>

namespace mla {

void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t k) {
  for (int64_t b = 0; b < k / kQuantBlock; ++b, x += kQuantBlock) {
    float amax = 0;
    for (int64_t j = 0; j < kQuantBlock; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
    y[b].d = f32_to_f16(d);
    for (int64_t j = 0; j < kQuantBlock; ++j) y[b].q[j] = static_cast<int8_t>(std::roundf(x[j] * id));
  }
}

void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t k) {
  constexpr int64_t half = kQuantBlock / 2;
  for (int64_t b = 0; b < k / kQuantBlock; ++b, x += kQuantBlock) {
    float amax = 0, max = 0;
    for (int64_t j = 0; j < kQuantBlock; ++j)
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    const float d = max / -8.0f, id = d != 0 ? 1.0f / d : 0.0f;
    y[b].d = f32_to_f16(d);
    for (int64_t j = 0; j < half; ++j) {
      const int lo = std::min(15, static_cast<int>(static_cast<int8_t>(x[j] * id + 8.5f)));
      const int hi = std::min(15, static_cast<int>(static_cast<int8_t>(x[half + j] * id + 8.5f)));
      y[b].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

}  // namespace mla
