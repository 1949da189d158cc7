// Scalar decoders of ggml's lattice i-quant formats (256 values per block, layouts in
// quants/block_formats.h, tables in quants/iq_tables.h): the reference the SIMD kernels are tested
// against and the fallback path. Formulas from ggml's `ggml-quants.c` dequantize_row_iq*; each
// decoder's comment in dequantize_iq.cpp gives its value formula and bit layout. Bit-equal to
// libggml's decoders on random blocks.
#pragma once
#include <cstdint>

namespace mla {

// Each reads n / 256 blocks at `blocks` (n a multiple of 256) and writes n floats to out.
void dequant_iq3_xxs(const uint8_t* blocks, float* out, int64_t n);
void dequant_iq3_s(const uint8_t* blocks, float* out, int64_t n);
void dequant_iq2_xxs(const uint8_t* blocks, float* out, int64_t n);
void dequant_iq2_xs(const uint8_t* blocks, float* out, int64_t n);
void dequant_iq2_s(const uint8_t* blocks, float* out, int64_t n);
void dequant_iq1_s(const uint8_t* blocks, float* out, int64_t n);
void dequant_iq1_m(const uint8_t* blocks, float* out, int64_t n);

// IQ1_M keeps its f16 super-scale in the top nibbles of the four little-endian u16 words of
// `scales`: bits 4k..4k+3 of the f16 are bits 12..15 of word k.
uint16_t iq1_m_super_scale(const uint8_t scales[8]);

}  // namespace mla
