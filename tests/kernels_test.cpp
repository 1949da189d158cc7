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

namespace mla {
namespace {

// A random matrix stored in `dtype`, with fp8 block scales when needed. Owns its bytes.
struct StoredMatrix {
  std::vector<uint8_t> bytes;
  std::vector<float> scales;
  Matrix view;

  StoredMatrix(DType dtype, int64_t rows, int64_t cols, std::mt19937& rng) {
    std::normal_distribution<float> dist(0.0f, 1.0f);
    if (dtype_is_quantized(dtype)) {  // random f32 rows through the quantizer
      bytes.resize(rows * dtype_row_bytes(dtype, cols));
      std::vector<float> row(cols);
      for (int64_t r = 0; r < rows; ++r) {
        for (float& v : row) v = dist(rng);
        quantize_row(dtype, row.data(), bytes.data() + r * dtype_row_bytes(dtype, cols), cols);
      }
      view = Matrix{dtype, rows, cols, bytes.data(), nullptr};
      return;
    }
    bytes.resize(rows * cols * dtype_size(dtype));
    for (int64_t i = 0; i < rows * cols; ++i) {
      const float v = dist(rng);
      switch (dtype) {
        case DType::F32: std::memcpy(&bytes[4 * i], &v, 4); break;
        case DType::BF16: { uint16_t h = f32_to_bf16(v); std::memcpy(&bytes[2 * i], &h, 2); break; }
        case DType::F16: { uint16_t h = f32_to_f16(v); std::memcpy(&bytes[2 * i], &h, 2); break; }
        case DType::F8_E4M3: bytes[i] = static_cast<uint8_t>(rng() & 0xff) & 0xf7; break;  // no NaN codes
        default: break;
      }
    }
    const int64_t sr = (rows + 127) / 128, sc = (cols + 127) / 128;
    std::uniform_real_distribution<float> sdist(0.001f, 0.01f);
    for (int64_t i = 0; i < sr * sc; ++i) scales.push_back(sdist(rng));
    view = Matrix{dtype, rows, cols, bytes.data(), dtype == DType::F8_E4M3 ? scales.data() : nullptr};
  }
};

class MatmulTest : public ::testing::TestWithParam<DType> {};

// Whether matmul quantizes x for this product (kernels/matmul.h: VNNI decode with block weights).
bool quantizes_x(const Matrix& W, int64_t n) { return n == 1 && dtype_is_quantized(W.dtype) && kernels_use_vnni(); }

// x as the VNNI decode sees it: per 32 values d = max|x| / 127, x' = d * round-to-even(x * (127 / max|x|)),
// computed here independently of the kernel, in the same f32 operations as ggml's quantize_row_q8_0.
std::vector<float> activation_q8(const std::vector<float>& x, std::vector<float>* d_per_value) {
  std::vector<float> out(x.size());
  d_per_value->assign(x.size(), 0.0f);
  for (size_t b = 0; b < x.size(); b += kQuantBlock) {
    float amax = 0;
    for (int j = 0; j < kQuantBlock; ++j) amax = std::max(amax, std::fabs(x[b + j]));
    const float d = amax / 127.0f, inv = amax != 0.0f ? 127.0f / amax : 0.0f;
    for (int j = 0; j < kQuantBlock; ++j) {
      out[b + j] = d * std::nearbyint(x[b + j] * inv);
      (*d_per_value)[b + j] = d;
    }
  }
  return out;
}

// Allowed |y - ref| for row r of y = W x. Exact-f32 kernels: 1e-4 relative. With x quantized: each
// value moves by at most d_x / 2, so |err| <= sum_c |W[r][c]| * d_x(c) / 2, plus f32 rounding of
// the accumulation (1e-5 of sum |W[r][c] x_c|).
double allowed_error(const Matrix& W, int64_t r, const float* x, int64_t n, double ref) {
  if (!quantizes_x(W, n)) return 1e-4 * (1.0 + std::fabs(ref));
  std::vector<float> xv(x, x + W.cols), d;
  activation_q8(xv, &d);
  double bound = 1e-6, mag = 0;
  for (int64_t c = 0; c < W.cols; ++c) {
    const double w = std::fabs(ref::weight_at(W, r, c));
    bound += w * d[c] / 2;
    mag += w * std::fabs(x[c]);
  }
  return bound + 1e-5 * mag;
}

// Block formats need whole blocks per row: their column counts are rounded up to 32.
int64_t cols_for(DType t, int64_t cols) {
  return dtype_is_quantized(t) ? (cols + kQuantBlock - 1) / kQuantBlock * kQuantBlock : cols;
}

TEST_P(MatmulTest, MatchesReferenceForBatchesAndThreads) {
  std::mt19937 rng(std::random_device{}());
  // Sizes that are not multiples of the vector width, the tile or the fp8 block.
  StoredMatrix W(GetParam(), 261, cols_for(GetParam(), 300), rng);
  std::normal_distribution<float> dist;
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 2, 7}) {
      std::vector<float> X(n * W.view.cols), Y(n * W.view.rows), R(n * W.view.rows);
      for (float& v : X) v = dist(rng);
      matmul(pool, W.view, X.data(), n, Y.data());
      ref::matmul(W.view, X.data(), n, R.data());
      for (size_t i = 0; i < Y.size(); ++i)
        ASSERT_NEAR(Y[i], R[i], allowed_error(W.view, i % W.view.rows, X.data(), n, R[i])) << "n=" << n << " i=" << i;
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
        for (size_t i = 0; i < Y.size(); ++i)
          ASSERT_NEAR(Y[i], R[i], allowed_error(W.view, i % rows, X.data(), n, R[i]))
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
          ASSERT_NEAR(y[i], r_exact[i], allowed_error(W.view, i, x.data(), 1, r_exact[i]))
              << dtype_name(t) << " rows=" << rows << " cols=" << cols << " i=" << i;
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
