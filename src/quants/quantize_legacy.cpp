// Q4_1, Q5_0, Q5_1: ggml's reference quantizers (ggml-quants.c quantize_row_q4_1_ref,
// quantize_row_q5_0_ref, quantize_row_q5_1_ref), arithmetic kept step for step (f32 scale, f32
// inverse, truncating casts of x * id + 0.5) so the blocks equal ggml's. No search: one pass per
// block, the scale set by the block's range.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "quants/block_formats.h"
#include "quants/quantize_k.h"
#include "quants/quantize_math.h"
#include "tensor/dtype.h"

namespace mla {
namespace {

constexpr int kBlock = 32;

template <class Block>
Block* blocks_at(uint8_t* out) {
  static_assert(alignof(Block) <= 2);
  return reinterpret_cast<Block*>(out);
}

void min_max(const float* x, float& lo, float& hi) {
  lo = FLT_MAX;
  hi = -FLT_MAX;
  for (int j = 0; j < kBlock; ++j) {
    lo = std::min(lo, x[j]);
    hi = std::max(hi, x[j]);
  }
}

// Value j (< 32) of a 5-bit block: low nibble into qs (j < 16 low half, else high half of byte
// j % 16), fifth bit into bit j of qh.
void put5(uint8_t qs[16], uint32_t& qh, int j, uint8_t q) {
  qs[j % 16] |= static_cast<uint8_t>((q & 15) << (4 * (j / 16)));
  qh |= static_cast<uint32_t>((q >> 4) & 1) << j;
}

}  // namespace

// Q4_1: value = d * q + m over [min, max] of the block: m = min, d = (max - min) / 15,
// q = round((x - m) / d) (truncation of a value >= 0 plus 0.5), clamped to 15.
void quantize_row_q4_1(const float* x, uint8_t* out, int64_t k) {
  BlockQ4_1* y = blocks_at<BlockQ4_1>(out);
  for (int64_t i = 0; i < k / kBlock; ++i, x += kBlock) {
    float lo, hi;
    min_max(x, lo, hi);
    const float d = (hi - lo) / 15, id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    y[i].m = f32_to_f16(lo);
    for (int j = 0; j < 16; ++j) {
      const int q0 = std::min(15, static_cast<int>(static_cast<int8_t>((x[j] - lo) * id + 0.5f)));
      const int q1 = std::min(15, static_cast<int>(static_cast<int8_t>((x[j + 16] - lo) * id + 0.5f)));
      y[i].qs[j] = static_cast<uint8_t>(q0 | q1 << 4);
    }
  }
}

// Q5_0: symmetric as Q4_0 with 32 levels: `max` the value of largest magnitude (with its sign),
// d = max / -16 so max maps to q = 0; q = min(31, (int8)(x / d + 16.5)).
void quantize_row_q5_0(const float* x, uint8_t* out, int64_t k) {
  BlockQ5_0* y = blocks_at<BlockQ5_0>(out);
  for (int64_t i = 0; i < k / kBlock; ++i, x += kBlock) {
    const float d = largest_magnitude(kBlock, x) / -16, id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    std::memset(y[i].qs, 0, sizeof y[i].qs);
    uint32_t qh = 0;
    for (int j = 0; j < kBlock; ++j)
      put5(y[i].qs, qh, j, static_cast<uint8_t>(std::min(31, static_cast<int>(static_cast<int8_t>(x[j] * id + 16.5f)))));
    std::memcpy(y[i].qh, &qh, 4);
  }
}

// Q5_1: value = d * q + m as Q4_1 with d = (max - min) / 31; q = (uint8)((x - m) / d + 0.5),
// which is at most 31 since (x - m) / d <= 31 (no clamp in ggml either).
void quantize_row_q5_1(const float* x, uint8_t* out, int64_t k) {
  BlockQ5_1* y = blocks_at<BlockQ5_1>(out);
  for (int64_t i = 0; i < k / kBlock; ++i, x += kBlock) {
    float lo, hi;
    min_max(x, lo, hi);
    const float d = (hi - lo) / 31, id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    y[i].m = f32_to_f16(lo);
    std::memset(y[i].qs, 0, sizeof y[i].qs);
    uint32_t qh = 0;
    for (int j = 0; j < kBlock; ++j) put5(y[i].qs, qh, j, static_cast<uint8_t>((x[j] - lo) * id + 0.5f));
    std::memcpy(y[i].qh, &qh, 4);
  }
}

}  // namespace mla
