// The prefill panel products (kernels/panel_gemm.h): the scalar twins against the plain reference
// within the activation rounding's bound, and the AVX512_BF16 / VNNI micro-kernels against the scalar
// twins on the same panels to f32 rounding, over shapes around the 32-row tile, the 16-row group, the
// register blocks (12 and 4 input rows) and the 2048-value chunk, with 1-3 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/panel_gemm.h"
#include "kernels/reference.h"
#include "kernels/simd_panel.h"
#include "kernels/simd.h"
#include "testing/matrices.h"

namespace mla {
namespace {

using testing::StoredMatrix;

bool simd_runs(DType t) {
  return panel::rounding_for(t) == ActivationRounding::Bf16 ? simd::avx512_bf16_cpu() : simd::avx512_vnni_cpu();
}

class PanelGemmTest : public ::testing::TestWithParam<DType> {};

TEST_P(PanelGemmTest, ScalarTwinMatchesReferenceAndSimdMatchesTwin) {
  const DType t = GetParam();
  const ActivationRounding rounding = panel::rounding_for(t);
  ASSERT_NE(rounding, ActivationRounding::None);
  std::mt19937 rng(std::random_device{}());
  std::normal_distribution<float> dist;
  const std::pair<int64_t, int64_t> shapes[] = {{1, 32}, {15, 64}, {17, 96}, {33, 160}, {64, 2080}, {70, 4160}};
  for (auto [rows, shape_cols] : shapes)
    for (int64_t n : {1, 4, 5, 12, 13, 25}) {
      const int64_t cols = testing::cols_for(t, shape_cols);
      if (rows * cols * n > 4'000'000) continue;  // keep the double-precision references quick
      StoredMatrix W(t, rows, cols, rng);
      std::vector<float> X(n * cols), R(n * rows), Ys(n * rows), Yv(n * rows);
      for (float& v : X) v = dist(rng) * (1 + 3 * (rng() % 2));  // blocks of different scales
      ref::matmul(W.view, X.data(), n, R.data());
      const std::vector<double> allowed = testing::allowed_errors(rounding, W.view, X.data(), n, R.data());
      // sum |w x| of each output: the scale of f32 rounding in the sums, for SIMD vs its scalar twin.
      std::vector<double> mag(n * rows, 1e-6);
      for (int64_t r = 0; r < rows; ++r) {
        const std::vector<float> w = ref::row_values(W.view, r);
        for (int64_t k = 0; k < n; ++k)
          for (int64_t c = 0; c < cols; ++c) mag[k * rows + r] += std::fabs(w[c] * X[k * cols + c]);
      }
      for (int threads : {1, 2, 3}) {
        ThreadPool pool(threads);
        panel::matmul(pool, W.view, X.data(), n, Ys.data(), panel::Impl::Scalar);
        for (int64_t i = 0; i < n * rows; ++i)
          ASSERT_NEAR(Ys[i], R[i], allowed[i])
              << dtype_name(t) << " rows=" << rows << " cols=" << cols << " n=" << n << " i=" << i;
        if (!simd_runs(t)) continue;
        panel::matmul(pool, W.view, X.data(), n, Yv.data(), panel::Impl::Simd);
        for (int64_t i = 0; i < n * rows; ++i)
          ASSERT_NEAR(Yv[i], Ys[i], 2e-6 * mag[i]) << dtype_name(t) << " rows=" << rows << " cols=" << cols << " n=" << n;
      }
    }
  if (!simd_runs(t)) GTEST_SKIP() << "scalar twin checked; this CPU has no " << (rounding == ActivationRounding::Bf16 ? "AVX512_BF16" : "AVX512_VNNI");
}

// Zero rows and columns of zeros: d_x = 0 blocks give exact zeros, not NaN.
TEST_P(PanelGemmTest, ZeroActivationsGiveZeros) {
  std::mt19937 rng(7);
  const int64_t cols = testing::cols_for(GetParam(), 96);
  StoredMatrix W(GetParam(), 40, cols, rng);
  const int64_t n = 6;
  std::vector<float> X(n * cols, 0.0f), Y(n * 40, 1.0f);
  ThreadPool pool(2);
  for (panel::Impl impl : {panel::Impl::Scalar, panel::Impl::Simd}) {
    if (impl == panel::Impl::Simd && !simd_runs(GetParam())) continue;
    panel::matmul(pool, W.view, X.data(), n, Y.data(), impl);
    for (float y : Y) ASSERT_EQ(y, 0.0f);
  }
}

INSTANTIATE_TEST_SUITE_P(PanelFormats, PanelGemmTest, ::testing::Values(DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0,
                                                           DType::Q5_1, DType::IQ4_NL, DType::Q2_K, DType::Q3_K,
                                                           DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_XS,
                                                           DType::IQ3_XXS, DType::IQ3_S, DType::IQ2_XXS, DType::IQ2_XS,
                                                           DType::IQ2_S, DType::IQ1_S, DType::IQ1_M),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(PanelGemm, NoPanelForOtherFormats) {
  for (DType t : {DType::F32, DType::F16, DType::F8_E4M3}) EXPECT_EQ(panel::rounding_for(t), ActivationRounding::None);
}

}  // namespace
}  // namespace mla
