// The quantizers of quants/quantize_k.h through quantize_row: round trips through the scalar
// decoders on fresh random rows within a per-type RMS bound, finite blocks, an all-zero row and a
// row with one large outlier. (Bit-equality with libggml's quantize_<type> was measured at
// development time with tests/reference/quantize_vs_ggml.cpp: 100% of blocks for every type.)
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"
#include "quants/dequantize.h"
#include "tensor/quantize.h"

namespace mla {
namespace {

struct Case {
  DType type;
  double max_rel_rms;  // bound on rms(decoded - x) / rms(x) for N(0, 1) rows
};

// Bounds about 1.3x the error measured on Gaussian rows (ggml's quantizers give the same:
// Q4_1 0.088, Q5_0 0.053, Q5_1 0.043, IQ4_NL 0.087, Q2_K 0.32, Q3_K 0.166, Q4_K 0.080,
// Q5_K 0.041, Q6_K 0.022, IQ4_XS 0.088).
const Case kCases[] = {
    {DType::Q4_1, 0.12}, {DType::Q5_0, 0.07}, {DType::Q5_1, 0.06}, {DType::IQ4_NL, 0.12}, {DType::Q2_K, 0.42},
    {DType::Q3_K, 0.22}, {DType::Q4_K, 0.11}, {DType::Q5_K, 0.055}, {DType::Q6_K, 0.03}, {DType::IQ4_XS, 0.12},
};

std::vector<float> round_trip(DType t, const std::vector<float>& x) {
  const int64_t k = static_cast<int64_t>(x.size());
  std::vector<uint8_t> q(dtype_row_bytes(t, k));
  quantize_row(t, x.data(), q.data(), k);
  std::vector<float> y(k);
  dequantize_row(t, q.data(), y.data(), k);
  return y;
}

double rel_rms(const std::vector<float>& x, const std::vector<float>& y) {
  double e = 0, s = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    e += (y[i] - x[i]) * (y[i] - x[i]);
    s += x[i] * x[i];
  }
  return std::sqrt(e / s);
}

class QuantizeK : public ::testing::TestWithParam<Case> {};

TEST_P(QuantizeK, RandomRowsRoundTrip) {
  const Case c = GetParam();
  ASSERT_TRUE(can_quantize(c.type));
  std::mt19937 rng(std::random_device{}());
  std::normal_distribution<float> g(0, 1);
  std::vector<float> x(4096);
  for (int rep = 0; rep < 4; ++rep) {
    const float scale = std::exp(g(rng)) * 0.05f;  // weights of varying magnitude
    for (float& v : x) v = scale * g(rng);
    const std::vector<float> y = round_trip(c.type, x);
    for (float v : y) ASSERT_TRUE(std::isfinite(v)) << dtype_name(c.type);
    EXPECT_LT(rel_rms(x, y), c.max_rel_rms) << dtype_name(c.type) << " scale " << scale;
  }
}

TEST_P(QuantizeK, ZeroRowDecodesToZero) {
  const Case c = GetParam();
  for (float v : round_trip(c.type, std::vector<float>(512, 0.0f))) EXPECT_EQ(v, 0.0f) << dtype_name(c.type);
}

TEST_P(QuantizeK, OneOutlier) {
  // A single value 100x the rest: it must come back close (it sets the block's scale), the others
  // finite and no worse than the outlier's quantization step.
  const Case c = GetParam();
  std::mt19937 rng(7);
  std::normal_distribution<float> g(0, 1);
  std::vector<float> x(512);
  for (float& v : x) v = 0.01f * g(rng);
  x[300] = 1.0f;
  const std::vector<float> y = round_trip(c.type, x);
  EXPECT_NEAR(y[300], 1.0f, 0.2f) << dtype_name(c.type);
  for (size_t i = 0; i < y.size(); ++i) {
    ASSERT_TRUE(std::isfinite(y[i]));
    EXPECT_LT(std::fabs(y[i] - x[i]), 0.35f) << dtype_name(c.type) << " value " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Types, QuantizeK, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(dtype_name(info.param.type)); });

TEST(QuantizeK, NoQuantizerIsOneLineError) {
  EXPECT_FALSE(can_quantize(DType::F32));
  std::vector<float> x(256, 1.0f);
  std::vector<uint8_t> q(256);
  EXPECT_THROW(quantize_row(DType::F32, x.data(), q.data(), 256), Error);
}

}  // namespace
}  // namespace mla
