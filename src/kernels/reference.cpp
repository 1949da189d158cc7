#include "kernels/reference.h"

#include <cstring>

#include "quants/dequantize.h"

namespace mla::ref {

float weight_at(const Matrix& W, int64_t r, int64_t c) {
  const uint8_t* row = W.data + static_cast<size_t>(r) * W.row_bytes();
  const uint8_t* p = row + static_cast<size_t>(c) * dtype_size(W.dtype);
  switch (W.dtype) {
    case DType::F32: {
      float f;
      std::memcpy(&f, p, 4);
      return f;
    }
    case DType::BF16: {
      uint16_t h;
      std::memcpy(&h, p, 2);
      return bf16_to_f32(h);
    }
    case DType::F16: {
      uint16_t h;
      std::memcpy(&h, p, 2);
      return f16_to_f32(h);
    }
    case DType::F8_E4M3: {
      const int64_t scale_cols = (W.cols + kFp8Block - 1) / kFp8Block;
      const float s = W.scale_inv[(r / kFp8Block) * scale_cols + c / kFp8Block];
      return fp8_e4m3_to_f32(*p) * s;
    }
    case DType::U8:
      return *p;
    default: {  // a block format: decode the block holding column c (quants/dequantize.h)
      const int64_t bv = dtype_block_values(W.dtype);
      float values[256];
      dequantize_row(W.dtype, row + static_cast<size_t>(c / bv) * dtype_block_bytes(W.dtype), values, bv);
      return values[c % bv];
    }
  }
  return 0;
}

std::vector<float> row_values(const Matrix& W, int64_t r) {
  std::vector<float> w(static_cast<size_t>(W.cols));
  if (dtype_is_quantized(W.dtype)) {
    dequantize_row(W.dtype, W.data + static_cast<size_t>(r) * W.row_bytes(), w.data(), W.cols);
  } else {
    for (int64_t c = 0; c < W.cols; ++c) w[c] = weight_at(W, r, c);
  }
  return w;
}

void matmul(const Matrix& W, const float* X, int64_t n, float* Y) {
  for (int64_t r = 0; r < W.rows; ++r) {
    const std::vector<float> w = row_values(W, r);
    for (int64_t i = 0; i < n; ++i) {
      double s = 0;
      for (int64_t c = 0; c < W.cols; ++c) s += static_cast<double>(w[c]) * X[i * W.cols + c];
      Y[i * W.rows + r] = static_cast<float>(s);
    }
  }
}

}  // namespace mla::ref

#include <cmath>
#include <vector>

namespace mla::ref {

float cache_value(kv::CacheDtype d, const uint8_t* row, int64_t i) {
  switch (d) {
    case kv::CacheDtype::F32: {
      float f;
      std::memcpy(&f, row + 4 * i, 4);
      return f;
    }
    case kv::CacheDtype::BF16:
    case kv::CacheDtype::F16: {
      uint16_t h;
      std::memcpy(&h, row + 2 * i, 2);
      return d == kv::CacheDtype::BF16 ? bf16_to_f32(h) : f16_to_f32(h);
    }
    case kv::CacheDtype::FP8: {
      // Block i / 128: f32 scale, then up to 128 e4m3 codes.
      const uint8_t* block = row + (i / 128) * (4 + 128);
      float s;
      std::memcpy(&s, block, 4);
      return s * fp8_e4m3_to_f32(block[4 + i % 128]);
    }
    case kv::CacheDtype::Q8_0: {
      BlockQ8_0 b;
      std::memcpy(&b, row + (i / kQuantBlock) * sizeof b, sizeof b);
      return f16_to_f32(b.d) * static_cast<float>(b.q[i % kQuantBlock]);
    }
  }
  return 0;
}

void attend(const AttnShape& s, const float* q, int64_t T, int64_t p0, const KvLayout& kv, float* out) {
  const int64_t group = s.n_head / s.n_head_kv;
  // Row j's bytes, looked up through the block table when there is one.
  auto row = [&](int64_t j) {
    if (!kv.block_table) return kv.base + j * kv.row_bytes;
    return kv.base + static_cast<int64_t>(kv.block_table[j / kv.block_tokens]) * kv.block_bytes +
           (j % kv.block_tokens) * kv.row_bytes;
  };
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < s.n_head; ++h) {
      const int64_t g = h / group, L = p0 + t + 1;
      std::vector<double> p(L);
      double m = -INFINITY, sum = 0;
      for (int64_t j = 0; j < L; ++j) {
        double d = 0;
        for (int64_t i = 0; i < s.d_k; ++i)
          d += static_cast<double>(q[(t * s.n_head + h) * s.d_k + i]) *
               cache_value(kv.dtype, row(j), kv.k_offset + g * kv.k_head_stride + i);
        p[j] = d * s.scale;
        m = std::max(m, p[j]);
      }
      for (double& x : p) sum += (x = std::exp(x - m));
      for (int64_t d = 0; d < s.d_v; ++d) {
        double acc = 0;
        for (int64_t j = 0; j < L; ++j)
          acc += p[j] * cache_value(kv.dtype, row(j), kv.v_offset + g * kv.v_head_stride + d);
        out[(t * s.n_head + h) * s.d_v + d] = static_cast<float>(acc / sum);
      }
    }
}

}  // namespace mla::ref
