// The VNNI decode gemv of the K-quant, IQ4, legacy and lattice i-quant formats (kernels/simd_quants.h) against the
// scalar decoders (quants/dequantize.h) on fresh random blocks: directly, through matmul() on 1-3
// threads (n = 1: the VNNI kernels; n = 3: the f32 tiles on x rounded alike), and with the VNNI
// path switched off (the f32 kernels on x itself).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "bench/random_blocks.h"
#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/panel_gemm.h"
#include "kernels/simd.h"
#include "kernels/simd_quants.h"
#include "quants/dequantize.h"

namespace mla {
namespace {

using GemvFn = void (*)(const uint8_t*, int64_t, int64_t, int64_t, const uint8_t*, float*);
// The prepared x each kernel reads: x8 (simd_quants.h) for most, Q4_0's pairs layout for IQ4_NL (simd.h).
struct Case {
  DType dtype;
  GemvFn gemv;
  int64_t (*x_bytes)(int64_t cols) = simd::x8_bytes;
  void (*prepare)(const float* x, int64_t cols, uint8_t* out) = simd::prepare_x8;
};
void prepare_iq4_nl(const float* x, int64_t cols, uint8_t* xq) { simd::quantize_x(simd::XQuant::ForIQ4_NL, x, cols, xq); }
void PrintTo(const Case& c, std::ostream* os) { *os << dtype_name(c.dtype); }
const Case kCases[] = {{DType::Q4_K, simd::gemv_q4_k},   {DType::Q6_K, simd::gemv_q6_k}, {DType::Q5_K, simd::gemv_q5_k},
                       {DType::Q3_K, simd::gemv_q3_k},   {DType::Q2_K, simd::gemv_q2_k}, {DType::IQ4_XS, simd::gemv_iq4_xs},
                       {DType::Q4_1, simd::gemv_q4_1},   {DType::Q5_0, simd::gemv_q5_0}, {DType::Q5_1, simd::gemv_q5_1},
                       {DType::IQ4_NL, simd::gemv_iq4_nl_vnni, simd::xq_bytes, prepare_iq4_nl}, {DType::IQ3_XXS, simd::gemv_iq3_xxs},
                       {DType::IQ3_S, simd::gemv_iq3_s}, {DType::IQ2_XXS, simd::gemv_iq2_xxs},
                       {DType::IQ2_XS, simd::gemv_iq2_xs}, {DType::IQ2_S, simd::gemv_iq2_s},
                       {DType::IQ1_S, simd::gemv_iq1_s}, {DType::IQ1_M, simd::gemv_iq1_m}};
// The AVX512_VBMI twins (matmul() takes them where the CPU has VBMI).
const Case kVbmiCases[] = {{DType::IQ3_XXS, simd::gemv_iq3_xxs_vbmi},
                           {DType::IQ3_S, simd::gemv_iq3_s_vbmi},
                           {DType::IQ2_XXS, simd::gemv_iq2_xxs_vbmi},
                           {DType::IQ2_XS, simd::gemv_iq2_xs_vbmi}};

// Random rows of t: rows (any count) x cols (a multiple of the block, 256..2048).
struct RandomMatrix {
  std::vector<uint8_t> bytes;
  Matrix view;
  RandomMatrix(DType t, int64_t rows, int64_t cols, std::mt19937& rng)
      : bytes(rows * dtype_row_bytes(t, cols)), view{t, rows, cols, nullptr, nullptr} {
    bench::random_blocks(t, bytes.data(), rows * cols / dtype_block_values(t), rng);
    view.data = bytes.data();
  }
};

// x with blocks of different scales (a factor 1 or 4 per 32 values, as activations with outliers).
std::vector<float> random_x(int64_t cols, std::mt19937& rng) {
  std::normal_distribution<float> dist;
  std::vector<float> x(cols);
  for (int64_t b = 0; b < cols; b += 32) {
    const float scale = rng() % 2 ? 4.0f : 1.0f;
    for (int64_t c = b; c < b + 32; ++c) x[c] = scale * dist(rng);
  }
  return x;
}

// The scalar reference for row r: sum_i dequant(w)_i * x_i in double, and sum_i |w_i x_i| (the scale
// of the f32 rounding the tolerances are stated against).
struct RowRef {
  double value = 0, magnitude = 0;
};
RowRef reference(const Matrix& W, int64_t r, const std::vector<float>& x) {
  std::vector<float> w(W.cols);
  dequantize_row(W.dtype, W.data + r * W.row_bytes(), w.data(), W.cols);
  RowRef out;
  for (int64_t c = 0; c < W.cols; ++c) {
    out.value += static_cast<double>(w[c]) * x[c];
    out.magnitude += std::fabs(static_cast<double>(w[c]) * x[c]);
  }
  return out;
}

int64_t random_cols(DType t, std::mt19937& rng) {
  const int64_t block = dtype_block_values(t);
  return (256 + static_cast<int64_t>(rng() % (2048 - 256 + 1))) / block * block;
}

std::vector<float> rounded(DType t, const std::vector<float>& x) {
  std::vector<float> xr(x.size());
  panel::round_activations(t, x.data(), 1, static_cast<int64_t>(x.size()), xr.data());
  return xr;
}

// The integer dot products are exact; the f32 scales and sums leave ~1e-7 per term.
constexpr double kVnniTolerance = 1e-5;
// The f32 kernels (decoded rows, f32 FMA chains over up to 2048 values).
constexpr double kF32Tolerance = 1e-4;

class QuantGemv : public ::testing::TestWithParam<Case> {};

void expect_kernel_matches_scalar_decoder(const Case& c) {
  std::mt19937 rng(std::random_device{}());
  for (int trial = 0; trial < 8; ++trial) {
    const int64_t rows = 1 + static_cast<int64_t>(rng() % 23), cols = random_cols(c.dtype, rng);
    RandomMatrix W(c.dtype, rows, cols, rng);
    const std::vector<float> x = random_x(cols, rng), xr = rounded(c.dtype, x);
    std::vector<uint8_t> x8(c.x_bytes(cols));
    c.prepare(x.data(), cols, x8.data());
    std::vector<float> y(rows);
    c.gemv(W.view.data, W.view.row_bytes(), rows, cols, x8.data(), y.data());
    for (int64_t r = 0; r < rows; ++r) {
      const RowRef want = reference(W.view, r, xr);
      ASSERT_NEAR(y[r], want.value, kVnniTolerance * want.magnitude + 1e-7)
          << dtype_name(c.dtype) << " rows=" << rows << " cols=" << cols << " r=" << r;
    }
  }
}

TEST_P(QuantGemv, KernelMatchesScalarDecoderOnRoundedX) {
  if (!simd::avx512_vnni_cpu()) GTEST_SKIP() << "no AVX512_VNNI";
  expect_kernel_matches_scalar_decoder(GetParam());
}

TEST(QuantGemvVbmi, KernelsMatchScalarDecoderOnRoundedX) {
  if (!simd::avx512_vbmi_cpu()) GTEST_SKIP() << "no AVX512_VBMI";
  for (const Case& c : kVbmiCases) {
    SCOPED_TRACE(dtype_name(c.dtype));
    expect_kernel_matches_scalar_decoder(c);
  }
}

TEST_P(QuantGemv, MatmulOnThreadsAndBothPaths) {
  const Case c = GetParam();
  std::mt19937 rng(std::random_device{}());
  set_kernel_path(KernelPath::Auto);
  const bool vnni = kernels_use_vnni();
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    const int64_t rows = 1 + static_cast<int64_t>(rng() % 61), cols = random_cols(c.dtype, rng);
    RandomMatrix W(c.dtype, rows, cols, rng);
    for (KernelPath path : {KernelPath::Auto, KernelPath::NoVbmi, KernelPath::NoVnni}) {
      set_kernel_path(path);
      // With VNNI, every product rounds x to int8 blocks (n = 1 on the integer kernels, n > 1 on the
      // f32 tiles); without, x stays f32.
      EXPECT_EQ(matmul_rounding(W.view), kernels_use_vnni() ? ActivationRounding::Int8Blocks : ActivationRounding::None);
      for (int64_t n : {1, 3}) {
        std::vector<float> X;
        for (int64_t i = 0; i < n; ++i) {
          const std::vector<float> x = random_x(cols, rng);
          X.insert(X.end(), x.begin(), x.end());
        }
        std::vector<float> Y(n * rows);
        matmul(pool, W.view, X.data(), n, Y.data());
        for (int64_t i = 0; i < n; ++i) {
          const std::vector<float> x(X.begin() + i * cols, X.begin() + (i + 1) * cols);
          const bool int8 = kernels_use_vnni();
          const double tol = int8 && n == 1 ? kVnniTolerance : kF32Tolerance;
          for (int64_t r = 0; r < rows; ++r) {
            const RowRef want = reference(W.view, r, int8 ? rounded(c.dtype, x) : x);
            ASSERT_NEAR(Y[i * rows + r], want.value, tol * want.magnitude + 1e-7)
                << dtype_name(c.dtype) << " threads=" << threads << " vnni=" << int8 << " n=" << n << " r=" << r;
          }
        }
      }
    }
  }
  set_kernel_path(KernelPath::Auto);
  if (!vnni) GTEST_SKIP() << "no AVX512_VNNI: only the f32 path ran";
}

INSTANTIATE_TEST_SUITE_P(Formats, QuantGemv, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(dtype_name(info.param.dtype)); });

}  // namespace
}  // namespace mla
