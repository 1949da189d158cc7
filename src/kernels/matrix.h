// A non-owning view of a row-major weight matrix [rows x cols] as stored (Hugging Face nn.Linear
// layout: [out_features x in_features]), in any stored dtype. fp8 weights keep DeepSeek-V3's
// 128x128 block scales beside them: value = fp8 * scale_inv[row / 128][col / 128].
#pragma once
#include <cstdint>

#include "tensor/dtype.h"

namespace mla {

constexpr int64_t kFp8Block = 128;

struct Matrix {
  DType dtype = DType::F32;
  int64_t rows = 0, cols = 0;
  const uint8_t* data = nullptr;      // row 0 of this view
  const float* scale_inv = nullptr;   // fp8 only: the whole tensor's [ceil(R/128) x ceil(C/128)] scales
  int64_t scale_row0 = 0;             // fp8 only: the tensor row that this view's row 0 is

  size_t row_bytes() const { return static_cast<size_t>(cols) * dtype_size(dtype); }
  size_t bytes() const { return row_bytes() * static_cast<size_t>(rows); }
  // Rows [r0, r0 + n) as a view of their own.
  Matrix row_slice(int64_t r0, int64_t n) const {
    Matrix m = *this;
    m.rows = n;
    m.data = data + static_cast<size_t>(r0) * row_bytes();
    m.scale_row0 = scale_row0 + r0;
    return m;
  }
};

}  // namespace mla
