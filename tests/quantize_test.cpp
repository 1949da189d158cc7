// The Q8_0 / Q4_0 quantizers: exact blocks worked out by hand from ggml's reference formulas, and
// round-trip error bounds on random rows.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "tensor/quantize.h"

namespace mla {
namespace {

std::vector<float> ramp() {  // x_j = j - 16, j < 32
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);
  return x;
}

TEST(Quantize, Q8_0KnownBlock) {
  // amax = 16, d = 16/127 (f16 0x3008 = 0.1259766), q_j = roundf((j - 16) * 127/16).
  BlockQ8_0 b;
  quantize_row_q8_0(ramp().data(), &b, 32);
  EXPECT_EQ(b.d, 0x3008);
  EXPECT_EQ(b.q[0], -127);
  EXPECT_EQ(b.q[16], 0);
  EXPECT_EQ(b.q[17], 8);    // 7.9375
  EXPECT_EQ(b.q[18], 16);   // 15.875
  EXPECT_EQ(b.q[31], 119);  // 119.0625
  // Halves round away from zero (roundf): amax = 127 makes d = 1, and 2.5 -> 3, -2.5 -> -3.
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;
  x[1] = 2.5f;
  x[2] = -2.5f;
  quantize_row_q8_0(x.data(), &b, 32);
  EXPECT_EQ(b.d, 0x3c00);
  EXPECT_EQ(b.q[0], 127);
  EXPECT_EQ(b.q[1], 3);
  EXPECT_EQ(b.q[2], -3);
  // All zero: d = 0 and every q = 0 (no division by zero).
  std::vector<float> z(32, 0.0f);
  quantize_row_q8_0(z.data(), &b, 32);
  EXPECT_EQ(b.d, 0);
  for (int8_t q : b.q) EXPECT_EQ(q, 0);
}

TEST(Quantize, Q4_0KnownBlock) {
  // The value of largest magnitude is x_0 = -16 (first of the largest), d = -16 / -8 = 2,
  // q_j = min(15, (int8)((j - 16) / 2 + 8.5)) = min(15, (j + 1) / 2).
  BlockQ4_0 b;
  quantize_row_q4_0(ramp().data(), &b, 32);
  EXPECT_EQ(b.d, 0x4000);
  for (int j = 0; j < 16; ++j) {
    const int lo = std::min(15, (j + 1) / 2), hi = std::min(15, (j + 17) / 2);
    EXPECT_EQ(b.qs[j], lo | (hi << 4)) << j;
  }
  EXPECT_EQ(b.qs[0], 0x80);
  EXPECT_EQ(b.qs[15], 0xf8);  // x_31 = 15 would be q = 16: clamped to 15
  // A positive largest value: d = -max/8 < 0, and max itself maps to q = 0 (value -8 d = max).
  std::vector<float> x(32, 0.0f);
  x[3] = 4.0f;
  x[20] = -1.0f;
  quantize_row_q4_0(x.data(), &b, 32);
  EXPECT_EQ(b.d, 0xb800);  // -0.5
  EXPECT_EQ(b.qs[3] & 15, 0);
  EXPECT_EQ(b.qs[4] >> 4, 10);  // -1 / -0.5 + 8.5 = 10.5 -> 10: value (10 - 8) * -0.5 = -1
  EXPECT_EQ(b.qs[0] & 15, 8);   // zero -> 8
}

// Round trip on random rows: every value within the step of its block (half a step for Q8_0, plus
// the f16 rounding of d; Q4_0's clamp at +8 loses up to one full step on the far side of zero).
TEST(Quantize, RoundTripErrorWithinOneStep) {
  std::mt19937 rng(std::random_device{}());
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const int64_t k = 32 * 64;
  std::vector<float> x(k), y(k);
  for (float& v : x) v = dist(rng) * 0.05f;
  for (DType t : {DType::Q8_0, DType::Q4_0}) {
    std::vector<uint8_t> q(dtype_row_bytes(t, k));
    quantize_row(t, x.data(), q.data(), k);
    double err2 = 0, x2 = 0;
    for (int64_t b = 0; b < k / 32; ++b) {
      const uint8_t* blk = q.data() + b * dtype_block_bytes(t);
      const float d = std::fabs(f16_to_f32(static_cast<uint16_t>(blk[0] | (blk[1] << 8))));
      for (int j = 0; j < 32; ++j) {
        const int64_t i = b * 32 + j;
        float v;
        if (t == DType::Q8_0) {
          v = f16_to_f32(static_cast<uint16_t>(blk[0] | (blk[1] << 8))) * static_cast<int8_t>(blk[2 + j]);
        } else {
          const int qv = j < 16 ? (blk[2 + j] & 15) : (blk[2 + j - 16] >> 4);
          v = f16_to_f32(static_cast<uint16_t>(blk[0] | (blk[1] << 8))) * static_cast<float>(qv - 8);
        }
        const float bound = t == DType::Q8_0 ? 0.57f * d : 1.01f * d;
        ASSERT_LE(std::fabs(v - x[i]), bound) << dtype_name(t) << " i=" << i;
        err2 += (v - x[i]) * (v - x[i]);
        x2 += static_cast<double>(x[i]) * x[i];
      }
    }
    // Relative RMS error of a Gaussian row: ~1% for 8 bits, ~10% for 4 bits.
    const double rel = std::sqrt(err2 / x2);
    EXPECT_GT(rel, 0.0);
    EXPECT_LT(rel, t == DType::Q8_0 ? 0.02 : 0.15) << dtype_name(t);
  }
}

}  // namespace
}  // namespace mla
