// Quantizers to ggml's lattice i-quant formats (layouts: quants/block_formats.h, value formulas:
// quants/dequantize_iq.cpp). Each takes n floats (n a multiple of 256, all finite: a non-finite
// value is an mla::Error) and writes n / 256 blocks that dequant_iq* reads back close to x.
//
// These are test-grade nearest-lattice-point quantizers, for making test files and for users
// without llama.cpp. Per sub-block (the values sharing one scale field) they try a handful of
// candidate scales; for each, every group of 8 values (IQ2, IQ1; 4 for IQ3's grid, 8 for its
// signs) takes its signs from x (for the 7-bit sign codes, an odd count of negatives flips the
// smallest magnitude, as the code needs an even count) and the grid entry nearest to x by brute
// force over the whole grid; the least-squares scale for the chosen points is kept when it lowers
// the squared error. The super-block scale is then tried at 1, 0.8, 0.7, 0.6 and 0.5 times the
// value that maps the largest sub-block scale to the largest field (smaller ones clamp the largest
// sub-blocks but give the others a finer step); for each, every scale field is rounded to its
// nearest code (its neighbours tried too), clamped to the field, and the grid points are searched
// again at the scale the decoder will see; the block with the least squared error is kept.
//
// How they differ from llama.cpp's quantize_iq*: the error is plain squared error (llama.cpp
// weights every value by an importance matrix and by sqrt(sigma^2 + x^2)); there is no iterative
// refinement of points and scale together beyond one least-squares step per candidate scale, and
// no neighbour tables (the search is exhaustive instead, so these are about 5-200x slower; IQ1
// takes about 10 ms per block). On Gaussian rows their RMS error is within about 0.93-1.05x of
// llama.cpp's with a uniform importance matrix (per type in tests/quants_iq_test.cpp); on real
// weights with an imatrix llama.cpp's will be better.
#pragma once
#include <cstdint>

namespace mla {

void quantize_row_iq3_xxs(const float* x, uint8_t* out, int64_t n);
void quantize_row_iq3_s(const float* x, uint8_t* out, int64_t n);
void quantize_row_iq2_xxs(const float* x, uint8_t* out, int64_t n);
void quantize_row_iq2_xs(const float* x, uint8_t* out, int64_t n);
void quantize_row_iq2_s(const float* x, uint8_t* out, int64_t n);
void quantize_row_iq1_s(const float* x, uint8_t* out, int64_t n);
void quantize_row_iq1_m(const float* x, uint8_t* out, int64_t n);

}  // namespace mla
