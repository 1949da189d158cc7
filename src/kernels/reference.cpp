#include "kernels/reference.h"

#include <cstring>

namespace mla::ref {

float weight_at(const Matrix& W, int64_t r, int64_t c) {
  const uint8_t* p = W.data + static_cast<size_t>(r) * W.row_bytes() + static_cast<size_t>(c) * dtype_size(W.dtype);
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
      const float s = W.scale_inv[((W.scale_row0 + r) / kFp8Block) * scale_cols + c / kFp8Block];
      return fp8_e4m3_to_f32(*p) * s;
    }
  }
  return 0;
}

void matmul(const Matrix& W, const float* X, int64_t n, float* Y) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = 0; r < W.rows; ++r) {
      double s = 0;
      for (int64_t c = 0; c < W.cols; ++c) s += static_cast<double>(weight_at(W, r, c)) * X[i * W.cols + c];
      Y[i * W.rows + r] = static_cast<float>(s);
    }
}

void matvec_t(const Matrix& W, const float* x, float* y) {
  for (int64_t c = 0; c < W.cols; ++c) {
    double s = 0;
    for (int64_t r = 0; r < W.rows; ++r) s += static_cast<double>(weight_at(W, r, c)) * x[r];
    y[c] = static_cast<float>(s);
  }
}

}  // namespace mla::ref
