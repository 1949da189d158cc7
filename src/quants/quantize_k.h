// f32 rows -> the legacy (Q4_1, Q5_0, Q5_1), IQ4 (IQ4_NL, IQ4_XS) and K-quant (Q2_K..Q6_K) block
// formats of quants/block_formats.h, following ggml's reference quantizers without an importance
// matrix (ggml/src/ggml-quants.c: quantize_row_<type>_ref, and quantize_iq4_nl / quantize_iq4_xs
// with quant_weights = NULL), so a row written here is what `llama-quantize` writes for it.
// Each takes k values (a multiple of the format's block size) and writes k / block_values blocks
// at `out` (dtype_row_bytes(type, k) bytes). Inputs must be finite (callers check).
#pragma once
#include <cstdint>

namespace mla {

void quantize_row_q4_1(const float* x, uint8_t* out, int64_t k);
void quantize_row_q5_0(const float* x, uint8_t* out, int64_t k);
void quantize_row_q5_1(const float* x, uint8_t* out, int64_t k);
void quantize_row_iq4_nl(const float* x, uint8_t* out, int64_t k);
void quantize_row_iq4_xs(const float* x, uint8_t* out, int64_t k);
void quantize_row_q2_k(const float* x, uint8_t* out, int64_t k);
void quantize_row_q3_k(const float* x, uint8_t* out, int64_t k);
void quantize_row_q4_k(const float* x, uint8_t* out, int64_t k);
void quantize_row_q5_k(const float* x, uint8_t* out, int64_t k);
void quantize_row_q6_k(const float* x, uint8_t* out, int64_t k);

}  // namespace mla
