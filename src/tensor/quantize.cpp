// Ports of ggml's reference quantizers (ggml/src/ggml-quants.c, quantize_row_q8_0_ref and
// quantize_row_q4_0_ref, as in ollama/ollama ml/backend/ggml/ggml/src/ggml-quants.c). The
// arithmetic is kept step for step (the f32 scale d, its f32 inverse id, roundf / the int8
// truncation of x*id + 8.5) so the blocks are bit-identical; only d is stored rounded to f16.
#include "tensor/quantize.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "quants/quantize_k.h"
#include "quants/quantize_math.h"

namespace mla {

// Q8_0: d = amax / 127, q = round(x / d) (roundf: halves away from zero).
void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t k) {
  for (int64_t i = 0; i < k / kQuantBlock; ++i) {
    const float* xb = x + i * kQuantBlock;
    float amax = 0.0f;
    for (int j = 0; j < kQuantBlock; ++j) amax = std::max(amax, std::fabs(xb[j]));
    const float d = amax / ((1 << 7) - 1);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    for (int j = 0; j < kQuantBlock; ++j) y[i].q[j] = static_cast<int8_t>(std::roundf(xb[j] * id));
  }
}

// Q4_0: `max` is the value of largest magnitude, with its sign; d = max / -8, so max maps to
// q = 0 (value -8 d = max) and the other side of zero gets one step less range.
// q = min(15, (int8_t)(x / d + 8.5)): truncation of a value >= 0.5, i.e. rounding to nearest.
void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t k) {
  constexpr int kHalf = kQuantBlock / 2;
  for (int64_t i = 0; i < k / kQuantBlock; ++i) {
    const float* xb = x + i * kQuantBlock;
    const float d = largest_magnitude(kQuantBlock, xb) / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    for (int j = 0; j < kHalf; ++j) {
      const uint8_t q0 = static_cast<uint8_t>(std::min(15, static_cast<int>(static_cast<int8_t>(xb[j] * id + 8.5f))));
      const uint8_t q1 =
          static_cast<uint8_t>(std::min(15, static_cast<int>(static_cast<int8_t>(xb[kHalf + j] * id + 8.5f))));
      y[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

namespace {

using QuantizeFn = void (*)(const float* x, uint8_t* out, int64_t k);

void q8_0_row(const float* x, uint8_t* out, int64_t k) { quantize_row_q8_0(x, reinterpret_cast<BlockQ8_0*>(out), k); }
void q4_0_row(const float* x, uint8_t* out, int64_t k) { quantize_row_q4_0(x, reinterpret_cast<BlockQ4_0*>(out), k); }

// One row per format with a quantizer (block structs are 2-byte aligned: callers pass row starts
// of a block array). The lattice i-quants add a line each from quants/quantize_iq.h.
struct Quantizer {
  DType type;
  QuantizeFn fn;
};
constexpr Quantizer kQuantizers[] = {
    {DType::Q8_0, q8_0_row},           {DType::Q4_0, q4_0_row},         {DType::Q4_1, quantize_row_q4_1},
    {DType::Q5_0, quantize_row_q5_0},  {DType::Q5_1, quantize_row_q5_1}, {DType::IQ4_NL, quantize_row_iq4_nl},
    {DType::Q2_K, quantize_row_q2_k},  {DType::Q3_K, quantize_row_q3_k}, {DType::Q4_K, quantize_row_q4_k},
    {DType::Q5_K, quantize_row_q5_k},  {DType::Q6_K, quantize_row_q6_k}, {DType::IQ4_XS, quantize_row_iq4_xs},
};

QuantizeFn quantizer(DType t) {
  for (const Quantizer& q : kQuantizers)
    if (q.type == t) return q.fn;
  return nullptr;
}

}  // namespace

bool can_quantize(DType t) { return quantizer(t) != nullptr; }

void quantize_row(DType t, const float* x, uint8_t* out, int64_t k) {
  const QuantizeFn f = quantizer(t);
  if (f == nullptr) fail("quantize: no quantizer for ", dtype_name(t));
  f(x, out, k);
}

}  // namespace mla
