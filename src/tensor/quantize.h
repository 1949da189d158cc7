// f32 rows -> GGUF block formats (Q8_0, Q4_0; layouts in tensor/dtype.h), bit-exact with ggml's
// reference quantizers, so a row quantized here equals the one llama.cpp would write.
#pragma once
#include <cstdint>

#include "tensor/dtype.h"

namespace mla {

// x[k] -> k / 32 blocks at y; k must be a multiple of kQuantBlock.
void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t k);
void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t k);
// Either of the two, by dtype (Q8_0 or Q4_0), into row_bytes = dtype_row_bytes(t, k) bytes at out.
void quantize_row(DType t, const float* x, uint8_t* out, int64_t k);

}  // namespace mla
