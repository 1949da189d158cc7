// Random weight matrices in every stored dtype, and the error bounds of the activation roundings
// (kernels/panel_gemm.h), for the kernel tests.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "bench/random_blocks.h"
#include "kernels/matmul.h"
#include "kernels/reference.h"
#include "tensor/quantize.h"

namespace mla::testing {

// A random matrix stored in `dtype`, with fp8 block scales when needed. Owns its bytes.
struct StoredMatrix {
  std::vector<uint8_t> bytes;
  std::vector<float> scales;
  Matrix view;

  StoredMatrix(DType dtype, int64_t rows, int64_t cols, std::mt19937& rng) {
    std::normal_distribution<float> dist(0.0f, 1.0f);
    if (bench::has_random_blocks(dtype) && dtype != DType::Q8_0 && dtype != DType::Q4_0) {
      // Random blocks: every code and sub-scale pattern (Q8_0 / Q4_0 keep their quantized rows).
      bytes.resize(rows * dtype_row_bytes(dtype, cols));
      bench::random_blocks(dtype, bytes.data(), rows * cols / dtype_block_values(dtype), rng);
      view = Matrix{dtype, rows, cols, bytes.data(), nullptr};
      return;
    }
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

// x as the VNNI decode sees it: per 32 values d = max|x| / 127, x' = d * round-to-even(x * (127 / max|x|)),
// computed here independently of the kernel, in the same f32 operations as ggml's quantize_row_q8_0.
inline std::vector<float> activation_q8(const std::vector<float>& x, std::vector<float>* d_per_value) {
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

// Allowed |y - ref| for row r of y = W x when x is rounded as `rounding` before the products.
// Exact f32: 1e-4 relative. Int8 blocks: each value moves by at most d_x / 2, so |err| <= sum_c
// |W[r][c]| * d_x(c) / 2. Bf16: each by at most 2^-9 |x_c|. Plus f32 rounding of the accumulation
// (1e-5 of sum |W[r][c] x_c|). `row` is W's row r as values, `d` x's int8 block scales per value
// (activation_q8; unused unless Int8Blocks).
inline double row_error_bound(ActivationRounding rounding, const std::vector<float>& row, const float* x,
                              const std::vector<float>& d, double ref) {
  if (rounding == ActivationRounding::None) return 1e-4 * (1.0 + std::fabs(ref));
  double bound = 1e-6, mag = 0;
  for (size_t c = 0; c < row.size(); ++c) {
    const double w = std::fabs(row[c]);
    bound += rounding == ActivationRounding::Bf16 ? w * std::fabs(x[c]) * 0x1p-9 : w * d[c] / 2;
    mag += w * std::fabs(x[c]);
  }
  return bound + 1e-5 * mag;
}

inline double allowed_error(ActivationRounding rounding, const Matrix& W, int64_t r, const float* x, double ref) {
  std::vector<float> d;
  if (rounding == ActivationRounding::Int8Blocks) activation_q8(std::vector<float>(x, x + W.cols), &d);
  return row_error_bound(rounding, ref::row_values(W, r), x, d, ref);
}

// allowed_error for every element of Y[n][rows] = X[n][cols] W^T (R the reference Y), each row of W
// dequantized and each row of X rounded once.
inline std::vector<double> allowed_errors(ActivationRounding rounding, const Matrix& W, const float* X, int64_t n,
                                          const float* R) {
  std::vector<std::vector<float>> rows(W.rows);
  for (int64_t r = 0; r < W.rows; ++r) rows[r] = ref::row_values(W, r);
  std::vector<double> out(n * W.rows);
  std::vector<float> d;
  for (int64_t t = 0; t < n; ++t) {
    const float* x = X + t * W.cols;
    if (rounding == ActivationRounding::Int8Blocks) activation_q8(std::vector<float>(x, x + W.cols), &d);
    for (int64_t r = 0; r < W.rows; ++r) out[t * W.rows + r] = row_error_bound(rounding, rows[r], x, d, R[t * W.rows + r]);
  }
  return out;
}

// Block formats need whole blocks per row: their column counts are rounded up to 32 or 256.
inline int64_t cols_for(DType t, int64_t cols) {
  const int64_t b = dtype_block_values(t);
  return (cols + b - 1) / b * b;
}

}  // namespace mla::testing
