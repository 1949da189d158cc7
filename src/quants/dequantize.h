// Scalar decoders of every block format to f32: the simple reference path that the SIMD kernels
// are tested against, and the fallback where no fast kernel exists. Formulas from ggml's
// `ggml-quants.c` dequantize_row_* (the format's public definition), written out per format in
// dequantize_*.cpp with the block layouts of quants/block_formats.h.
#pragma once
#include <cstdint>

#include "tensor/dtype.h"

namespace mla {

// True for the block formats this engine can decode (readers refuse the others by name).
bool can_dequantize(DType t);
// n values (a multiple of dtype_block_values(t)) from the blocks at `blocks` to out[0, n).
// t must satisfy can_dequantize.
void dequantize_row(DType t, const uint8_t* blocks, float* out, int64_t n);

// One decoder per format: `blocks` holds n / block_values blocks.
using DequantizeFn = void (*)(const uint8_t* blocks, float* out, int64_t n);
DequantizeFn dequantizer(DType t);  // nullptr when !can_dequantize(t)

}  // namespace mla
