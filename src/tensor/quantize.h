// f32 rows -> GGUF block formats, bit-exact with ggml's reference quantizers, so a row quantized
// here equals the one llama.cpp would write. Q8_0 / Q4_0 are here (layouts in tensor/dtype.h);
// the legacy, IQ4 and K-quant formats in quants/quantize_k.h; quantize_row dispatches on the dtype.
#pragma once
#include <cstdint>

#include "tensor/dtype.h"

namespace mla {

// x[k] -> k / 32 blocks at y; k must be a multiple of kQuantBlock.
void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t k);
void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t k);

// True for the block formats with a quantizer here.
bool can_quantize(DType t);
// x[k] (finite; k a multiple of dtype_block_values(t)) as type t into dtype_row_bytes(t, k) bytes
// at out; fails with one line for a type without a quantizer.
void quantize_row(DType t, const float* x, uint8_t* out, int64_t k);

}  // namespace mla
