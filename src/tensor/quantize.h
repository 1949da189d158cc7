// f32 rows -> GGUF's Q8_0 / Q4_0 blocks, as ggml's reference quantizers (ggml-quants.c,
// quantize_row_q8_0_ref / quantize_row_q4_0_ref) compute them, so files we write match llama.cpp's.
// Used by the GGUF writer; the kernels only ever decode.
#pragma once
#include <cstdint>

#include "tensor/dtype.h"

namespace mla {

// k values (a multiple of kQuantBlock) -> k / 32 blocks.
//   Q8_0: d = max|x| / 127, q = round(x / d)                       (|error| <= d / 2 per value)
//   Q4_0: d = m / -8 with m the value of largest magnitude, q = min(15, trunc(x / d + 8.5))
//                                                                  (|error| <= |d| / 2, |d| at the clamp)
void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t k);
void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t k);

}  // namespace mla
