#include "bench/random_blocks.h"

#include <cstring>

#include "core/error.h"

namespace mla::bench {
namespace {

// IQ1_M has no f16 field: its d sits in the top nibbles of the four u16 scale words at byte 48
// (quants/dequantize_iq.h, iq1_m_super_scale); this marker stands for it in the list below.
constexpr int kIq1mSuperScale = 1000;
constexpr int kIq1mScales = 48;

// Byte offsets of the f16 scale fields in one block (quants/block_formats.h); -1 ends the list.
struct ScaleFields {
  DType dtype;
  int at[3];
};
constexpr ScaleFields kScaleFields[] = {
    {DType::Q8_0, {0, -1}},   {DType::Q4_0, {0, -1}},    {DType::Q4_1, {0, 2, -1}}, {DType::Q5_0, {0, -1}},
    {DType::Q5_1, {0, 2, -1}}, {DType::IQ4_NL, {0, -1}}, {DType::Q2_K, {80, 82, -1}}, {DType::Q3_K, {108, -1}},
    {DType::Q4_K, {0, 2, -1}}, {DType::Q5_K, {0, 2, -1}}, {DType::Q6_K, {208, -1}},  {DType::IQ4_XS, {0, -1}},
    {DType::IQ3_XXS, {0, -1}}, {DType::IQ3_S, {0, -1}}, {DType::IQ2_XXS, {0, -1}}, {DType::IQ2_XS, {0, -1}},
    {DType::IQ2_S, {0, -1}},   {DType::IQ1_S, {0, -1}}, {DType::IQ1_M, {kIq1mSuperScale, -1}},
};

const ScaleFields* fields_of(DType t) {
  for (const ScaleFields& f : kScaleFields)
    if (f.dtype == t) return &f;
  return nullptr;
}

}  // namespace

bool has_random_blocks(DType t) { return fields_of(t) != nullptr; }

void random_blocks(DType t, uint8_t* out, int64_t blocks, std::mt19937& rng) {
  const ScaleFields* f = fields_of(t);
  if (f == nullptr) fail("random_blocks: no scale layout for ", dtype_name(t));
  const size_t bytes = static_cast<size_t>(blocks) * dtype_block_bytes(t);
  size_t i = 0;
  for (; i + 4 <= bytes; i += 4) {
    const uint32_t v = rng();
    std::memcpy(out + i, &v, 4);
  }
  for (; i < bytes; ++i) out[i] = static_cast<uint8_t>(rng());
  std::uniform_real_distribution<float> mag(1e-3f, 1e-2f);
  for (int64_t b = 0; b < blocks; ++b)
    for (int k = 0; k < 3 && f->at[k] >= 0; ++k) {
      const uint16_t h = f32_to_f16((rng() & 1 ? -1.0f : 1.0f) * mag(rng));
      uint8_t* block = out + b * dtype_block_bytes(t);
      if (f->at[k] == kIq1mSuperScale) {  // nibble k of d -> bits 12..15 of scale word k
        for (int w = 0; w < 4; ++w) {
          uint8_t& top = block[kIq1mScales + 2 * w + 1];
          top = static_cast<uint8_t>((top & 0x0f) | ((h >> (4 * w)) & 0x0f) << 4);
        }
      } else {
        std::memcpy(block + f->at[k], &h, 2);
      }
    }
}

}  // namespace mla::bench
