// Block formats as unsigned bytes for integer dot products: 32 consecutive values of a row, starting
// at value 32 b, as
//   w[v] = d[v / sub] * (u[v] - off) + m[v / sub]        (u in [0, 255], m = 0 without a min)
// with `sub` values (16 or 32) per scale. This is the form the VNNI prefill panels
// (kernels/panel_gemm.h) multiply: vpdpbusd takes u as its unsigned operand against int8
// activations, the constant offset folds into each sum's start and the min into one FMA with the
// activations' sum. Every format of quants/block_formats.h has one (value formulas:
// quants/dequantize.cpp and dequantize_iq.cpp, which the tests compare this form against).
#pragma once
#include <cstdint>

#include "tensor/dtype.h"

namespace mla {

struct Int8Form {
  DType dtype;
  int32_t off;    // the constant subtracted from every u
  int sub;        // values per scale: 32, or 16 for Q2_K, Q3_K, Q6_K, IQ2_XS, IQ2_S, IQ1_M
  bool has_min;   // m != 0 (Q4_1, Q5_1, Q2_K, Q4_K, Q5_K)
  // Unpacks 32-value block b of a row: u[32], d[32 / sub] and (has_min) m[32 / sub].
  void (*unpack)(const uint8_t* row, int64_t b, uint8_t* u, float* d, float* m);
};

// The form of t, or nullptr when t has none.
const Int8Form* int8_form(DType t);

}  // namespace mla
