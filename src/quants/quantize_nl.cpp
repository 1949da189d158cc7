// IQ4_NL and IQ4_XS: 4-bit codes into the non-linear value table kIq4nlValues, after ggml's
// quantize_row_iq4_nl_impl (ggml-quants.c) as quantize_iq4_nl / quantize_iq4_xs call it without
// an importance matrix (weights x^2, 7 trial scales either side). Arithmetic in ggml's order so
// the blocks equal its.
#include <cmath>
#include <cstring>

#include "quants/block_formats.h"
#include "quants/quantize_k.h"
#include "quants/quantize_math.h"
#include "tensor/dtype.h"

namespace mla {
namespace {

constexpr int kSub = 32;     // values per scale
constexpr int kTries = 7;    // trial inverse scales (kIq4nlValues[0] + t) / max, t in [-7, 7]

// The index of the table value nearest to v (ties to the lower one; ggml-quants.c best_index_int8).
int nearest_code(float v) {
  const int8_t* t = kIq4nlValues;
  if (v <= t[0]) return 0;
  if (v >= t[15]) return 15;
  int lo = 0, hi = 15;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    (v < t[mid] ? hi : lo) = mid;
  }
  return v - t[hi - 1] < t[hi] - v ? hi - 1 : hi;
}

// The scale d of one 32-value sub-block minimising sum w (x - d * table[code(x / d)])^2 with
// w = x^2, over the start d = max / -127 (the largest magnitude on the table's end) and the
// inverse scales (t + table[0]) / max: for each candidate code assignment the best d is the
// weighted least-squares sumqx / sumq2, and the assignment with the largest sumqx^2 / sumq2 wins.
float best_scale(const float* x) {
  const float max = largest_magnitude(kSub, x);
  if (std::fabs(max) < kGroupMaxEps) return 0;
  auto fit = [&](float id, float& sumqx, float& sumq2) {
    sumqx = sumq2 = 0;
    for (int j = 0; j < kSub; ++j) {
      const float q = kIq4nlValues[nearest_code(id * x[j])], w = x[j] * x[j];
      sumqx += w * q * x[j];
      sumq2 += w * q * q;
    }
  };
  float d = -max / kIq4nlValues[0], sumqx, sumq2;
  fit(1 / d, sumqx, sumq2);
  d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
  float best = d * sumqx;
  for (int t = -kTries; t <= kTries; ++t) {
    fit(static_cast<float>(t + kIq4nlValues[0]) / max, sumqx, sumq2);
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      d = sumqx / sumq2;
      best = d * sumqx;
    }
  }
  return d;
}

// Codes of 32 values at inverse scale id, packed as IQ4_NL: value j < 16 low nibble of byte j,
// value 16 + j its high nibble.
void pack_codes(const float* x, float id, uint8_t qs[16]) {
  for (int j = 0; j < 16; ++j)
    qs[j] = static_cast<uint8_t>(nearest_code(id * x[j]) | nearest_code(id * x[j + 16]) << 4);
}

}  // namespace

void quantize_row_iq4_nl(const float* x, uint8_t* out, int64_t k) {
  auto* y = reinterpret_cast<BlockIQ4_NL*>(out);
  for (int64_t i = 0; i < k / kSub; ++i, x += kSub) {
    const float d = best_scale(x);
    y[i].d = f32_to_f16(d);
    pack_codes(x, d != 0 ? 1 / d : 0, y[i].qs);
  }
}

// IQ4_XS: the 8 sub-block scales found as for IQ4_NL, then stored as 6-bit multiples l - 32 of
// d = -(scale of largest magnitude) / 32 (l = round(scale / d) in [-32, 31]); the codes are
// re-chosen for the stored scale d * l (with d before its f16 rounding, as ggml does).
void quantize_row_iq4_xs(const float* x, uint8_t* out, int64_t k) {
  auto* y = reinterpret_cast<BlockIQ4_XS*>(out);
  for (int64_t i = 0; i < k / kSuperBlock; ++i, x += kSuperBlock) {
    float scales[8];
    for (int s = 0; s < 8; ++s) scales[s] = best_scale(x + kSub * s);
    const float max_scale = largest_magnitude(8, scales);
    const float d = -max_scale / 32, id = d != 0 ? 1 / d : 0.f;
    y[i].d = f32_to_f16(d);
    y[i].scales_h = 0;
    std::memset(y[i].scales_l, 0, sizeof y[i].scales_l);
    for (int s = 0; s < 8; ++s) {
      int l = nearest_int(id * scales[s]);
      l = l < -32 ? -32 : l > 31 ? 31 : l;
      const float dl = d * static_cast<float>(l);
      pack_codes(x + kSub * s, dl != 0 ? 1 / dl : 0.f, y[i].qs + 16 * s);
      const int stored = l + 32;
      y[i].scales_l[s / 2] |= static_cast<uint8_t>((stored & 15) << (4 * (s % 2)));
      y[i].scales_h |= static_cast<uint16_t>((stored >> 4) << (2 * s));
    }
  }
}

}  // namespace mla
