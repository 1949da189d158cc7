// Fast kernels against their plain reference twins, on fresh random inputs, for every weight dtype.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/reference.h"
#include "tensor/quantize.h"
#include "testing/matrices.h"

namespace mla {
namespace {

using testing::StoredMatrix;
using testing::activation_q8;
using testing::cols_for;


class MatmulTest : public ::testing::TestWithParam<DType> {};

TEST_P(MatmulTest, MatchesReferenceForBatchesAndThreads) {
  std::mt19937 rng(std::random_device{}());
  // Sizes that are not multiples of the vector width, the tile or the fp8 block.
  StoredMatrix W(GetParam(), 261, cols_for(GetParam(), 300), rng);
  std::normal_distribution<float> dist;
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 2, 7, 17}) {
      std::vector<float> X(n * W.view.cols), Y(n * W.view.rows), R(n * W.view.rows);
      for (float& v : X) v = dist(rng);
      matmul(pool, W.view, X.data(), n, Y.data());
      ref::matmul(W.view, X.data(), n, R.data());
      const auto allowed = testing::allowed_errors(matmul_rounding(W.view), W.view, X.data(), n, R.data());
      for (size_t i = 0; i < Y.size(); ++i) ASSERT_NEAR(Y[i], R[i], allowed[i]) << "n=" << n << " i=" << i;
    }
  }
}

// Every dispatch level (the explicit AVX-512 kernels where the CPU has them, and the portable ones)
// over shapes around the vector width (16), the gemv step (64), the micro-kernel blocks (4 rows x 6
// inputs, 16-row tiles) and the fp8 block (128), for every batch size from 1 to 9.
TEST_P(MatmulTest, EveryPathShapeAndBatchMatchesReference) {
  std::mt19937 rng(std::random_device{}());
  std::normal_distribution<float> dist;
  ThreadPool pool(2);
  const std::pair<int64_t, int64_t> shapes[] = {{1, 1}, {3, 15}, {5, 17}, {17, 33}, {19, 64}, {33, 129}, {7, 200}};
  for (KernelPath path : {KernelPath::Auto, KernelPath::NoVnni, KernelPath::Portable}) {
    set_kernel_path(path);
    for (auto [rows, c] : shapes) {
      const int64_t cols = cols_for(GetParam(), c);
      StoredMatrix W(GetParam(), rows, cols, rng);
      for (int64_t n = 1; n <= 9; ++n) {
        std::vector<float> X(n * cols), Y(n * rows), R(n * rows);
        for (float& v : X) v = dist(rng);
        matmul(pool, W.view, X.data(), n, Y.data());
        ref::matmul(W.view, X.data(), n, R.data());
        const auto allowed = testing::allowed_errors(matmul_rounding(W.view), W.view, X.data(), n, R.data());
        for (size_t i = 0; i < Y.size(); ++i)
          ASSERT_NEAR(Y[i], R[i], allowed[i])
              << "path=" << static_cast<int>(path) << " rows=" << rows << " cols=" << cols << " n=" << n;
      }
      std::vector<float> x(cols);
      for (float& v : x) v = dist(rng);
      // decode_row, dot_f32, axpy_f32, matvec_rows and matvec_t_rows against plain loops.
      std::vector<float> row(cols), acc(cols, 1.0f);
      decode_row(W.view, rows - 1, row.data());
      double d = 0;
      for (int64_t c = 0; c < cols; ++c) {
        ASSERT_EQ(row[c], ref::weight_at(W.view, rows - 1, c));
        d += static_cast<double>(row[c]) * x[c];
      }
      ASSERT_NEAR(dot_f32(row.data(), x.data(), cols), d, 1e-4 * (1 + std::fabs(d)));
      axpy_f32(0.5f, row.data(), acc.data(), cols);
      for (int64_t c = 0; c < cols; ++c) ASSERT_NEAR(acc[c], 1.0f + 0.5f * row[c], 1e-6f * (1 + std::fabs(row[c])));
      // matvec_rows / matvec_t_rows over rows [r0, rows) on the calling thread, against double sums.
      const int64_t r0 = rows / 3;
      std::vector<float> y(rows - r0), yt(cols, 0.5f), xr(rows - r0);
      for (float& v : xr) v = dist(rng);
      matvec_rows(W.view, r0, rows, x.data(), y.data());
      matvec_t_rows(W.view, r0, rows, xr.data(), yt.data());
      for (int64_t r = r0; r < rows; ++r) {
        double want = 0, mag = 0;
        for (int64_t c = 0; c < cols; ++c) {
          want += static_cast<double>(ref::weight_at(W.view, r, c)) * x[c];
          mag += std::fabs(static_cast<double>(ref::weight_at(W.view, r, c)) * x[c]);
        }
        ASSERT_NEAR(y[r - r0], want, 1e-5 * (1 + mag)) << "matvec_rows row " << r;
      }
      for (int64_t c = 0; c < cols; ++c) {
        double want = 0.5, mag = 0.5;
        for (int64_t r = r0; r < rows; ++r) {
          want += static_cast<double>(xr[r - r0]) * ref::weight_at(W.view, r, c);
          mag += std::fabs(static_cast<double>(xr[r - r0]) * ref::weight_at(W.view, r, c));
        }
        ASSERT_NEAR(yt[c], want, 1e-5 * (1 + mag)) << "matvec_t_rows col " << c;
      }
    }
  }
  set_kernel_path(KernelPath::Auto);
}

// The VNNI decode (n = 1, Q8_0 / Q4_0): against the reference on x itself within the activation
// quantization bound, and against the reference on the independently quantized x' to f32 rounding
// (so the integer products, the -8 / -128 offsets and the scales are exact, not merely close).
// Odd row counts, odd and even block counts (a lone last block), 1-3 threads.
TEST(VnniDecode, MatchesReferenceOnQuantizedActivation) {
  set_kernel_path(KernelPath::Auto);
  if (!kernels_use_vnni()) GTEST_SKIP() << "no AVX512_VNNI (or MLA_KERNELS forces another path)";
  std::mt19937 rng(std::random_device{}());
  std::normal_distribution<float> dist;
  for (DType t : {DType::Q8_0, DType::Q4_0})
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 32}, {3, 64}, {7, 96}, {13, 160}, {261, 320}, {33, 2080}})
      for (int threads : {1, 2, 3}) {
        ThreadPool pool(threads);
        StoredMatrix W(t, rows, cols, rng);
        std::vector<float> x(cols), y(rows), r_exact(rows), r_quant(rows), d;
        for (float& v : x) v = dist(rng) * (1 + 3 * (rng() % 2));  // blocks of different scales
        const std::vector<float> xq = activation_q8(x, &d);
        matmul(pool, W.view, x.data(), 1, y.data());
        ref::matmul(W.view, x.data(), 1, r_exact.data());
        ref::matmul(W.view, xq.data(), 1, r_quant.data());
        for (int64_t i = 0; i < rows; ++i) {
          double mag = 1e-6;
          for (int64_t c = 0; c < cols; ++c) mag += std::fabs(ref::weight_at(W.view, i, c) * xq[c]);
          ASSERT_NEAR(y[i], r_quant[i], 1e-5 * mag) << dtype_name(t) << " rows=" << rows << " cols=" << cols << " i=" << i;
          ASSERT_NEAR(y[i], r_exact[i], testing::allowed_error(matmul_rounding(W.view), W.view, i, x.data(), r_exact[i]))
              << dtype_name(t) << " rows=" << rows << " cols=" << cols << " i=" << i;
        }
      }
}

// The BF16 decode on AVX512_BF16 (`vdpbf16ps`): against the reference on x rounded to bf16 (as the
// panels round it) to f32 rounding, so the products are exact and every pair and tail counted;
// column counts around the 32-value step and the 128-value loop, odd ones on the f32 kernel; and
// batches below the panels' 16 rows bit for bit equal to their rows alone.
TEST(Bf16Decode, MatchesReferenceOnRoundedActivation) {
  set_kernel_path(KernelPath::Auto);
  if (!kernels_use_bf16_dot()) GTEST_SKIP() << "no AVX512_BF16 (or MLA_KERNELS forces another path)";
  std::mt19937 rng(std::random_device{}());
  std::normal_distribution<float> dist;
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 2}, {3, 30}, {5, 33}, {7, 96}, {13, 130}, {261, 320}, {33, 2086}})
    for (int threads : {1, 2, 3}) {
      ThreadPool pool(threads);
      StoredMatrix W(DType::BF16, rows, cols, rng);
      std::vector<float> x(cols), xr(cols), y(rows), r(rows);
      for (float& v : x) v = dist(rng);
      for (int64_t c = 0; c < cols; ++c) xr[c] = cols % 2 == 0 ? bf16_to_f32(f32_to_bf16(x[c])) : x[c];
      matmul(pool, W.view, x.data(), 1, y.data());
      ref::matmul(W.view, xr.data(), 1, r.data());
      for (int64_t i = 0; i < rows; ++i) {
        double mag = 1e-6;
        for (int64_t c = 0; c < cols; ++c) mag += std::fabs(ref::weight_at(W.view, i, c) * xr[c]);
        ASSERT_NEAR(y[i], r[i], 1e-5 * mag) << "rows=" << rows << " cols=" << cols << " i=" << i;
      }
      // Up to 15 inputs at once (below the panels' 16): each input's result equals its own n = 1 call
      // (even rows; odd ones take the f32 kernels, gemv and tiles).
      if (cols % 2 != 0) continue;
      const int64_t n = 2 + static_cast<int64_t>(rng() % 14);
      std::vector<float> X(n * cols), Y(n * rows), one(rows);
      for (float& v : X) v = dist(rng);
      matmul(pool, W.view, X.data(), n, Y.data());
      for (int64_t j = 0; j < n; ++j) {
        matmul(pool, W.view, X.data() + j * cols, 1, one.data());
        for (int64_t i = 0; i < rows; ++i) ASSERT_EQ(Y[j * rows + i], one[i]) << "n=" << n << " cols=" << cols << " input " << j << " row " << i;
      }
    }
}

INSTANTIATE_TEST_SUITE_P(AllDtypes, MatmulTest,
                         ::testing::Values(DType::F32, DType::BF16, DType::F16, DType::F8_E4M3, DType::Q8_0,
                                           DType::Q4_0),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(Dtype, ConversionsRoundTripAndRound) {
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f)), 1.0f);
  EXPECT_EQ(f32_to_bf16(1.00390625f), 0x3f80);  // exactly halfway: rounds to even
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16(f), h) << h;  // every f16 value survives a round trip
  }
  EXPECT_EQ(fp8_e4m3_to_f32(0x7e), 448.0f);  // largest finite e4m3fn
  EXPECT_EQ(fp8_e4m3_to_f32(0x01), std::ldexp(1.0f, -9));  // smallest subnormal
  EXPECT_TRUE(std::isnan(fp8_e4m3_to_f32(0x7f)));
  EXPECT_EQ(fp8_e4m3_to_f32(0xb8), -1.0f);
}

TEST(Ops, RmsnormSoftmaxRope) {
  std::vector<float> x = {1, 2, 3, 4}, w = {1, 1, 2, 0.5f}, out(4);
  rmsnorm(x.data(), w.data(), 4, 0.0f, out.data());
  const float inv = 1.0f / std::sqrt(30.0f / 4.0f);
  EXPECT_NEAR(out[2], 3 * inv * 2, 1e-6);
  std::vector<float> s = {1000, 1001, 999};
  softmax(s.data(), 3);
  EXPECT_NEAR(s[0] + s[1] + s[2], 1.0f, 1e-6);
  EXPECT_GT(s[1], s[0]);
  // A rotation keeps each pair's norm and turns (1, 0) to (cos, sin).
  std::vector<float> v = {1, 0, 3, 4};
  const float c[2] = {std::cos(0.3f), std::cos(1.1f)}, sn[2] = {std::sin(0.3f), std::sin(1.1f)};
  rope_interleaved(v.data(), c, sn, 4);
  EXPECT_NEAR(v[0], c[0], 1e-6);
  EXPECT_NEAR(v[1], sn[0], 1e-6);
  EXPECT_NEAR(v[2] * v[2] + v[3] * v[3], 25.0f, 1e-4);
}

TEST(ThreadPool, EveryIndexExactlyOnce) {
  ThreadPool pool(4);
  for (int64_t n : {1, 3, 4, 1000}) {
    std::vector<std::atomic<int>> hits(n);
    pool.parallel_for(n, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hits[i]++;
    });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1);
  }
}

}  // namespace
}  // namespace mla
