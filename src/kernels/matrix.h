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
  const float* scale_inv = nullptr;   // fp8 only: [ceil(rows/128) x ceil(cols/128)] block scales

  size_t row_bytes() const { return dtype_row_bytes(dtype, cols); }
  size_t bytes() const { return row_bytes() * static_cast<size_t>(rows); }
};

}  // namespace mla
