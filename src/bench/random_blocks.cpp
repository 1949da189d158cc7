#include "bench/random_blocks.h"

#include <cstring>

#include "core/error.h"

namespace mla::bench {
namespace {

// Byte offsets of the f16 scale fields in one block (quants/block_formats.h); -1 ends the list.
struct ScaleFields {
  DType dtype;
  int at[3];
};
constexpr ScaleFields kScaleFields[] = {
    {DType::Q8_0, {0, -1}},   {DType::Q4_0, {0, -1}},    {DType::Q4_1, {0, 2, -1}}, {DType::Q5_0, {0, -1}},
    {DType::Q5_1, {0, 2, -1}}, {DType::IQ4_NL, {0, -1}}, {DType::Q2_K, {80, 82, -1}}, {DType::Q3_K, {108, -1}},
    {DType::Q4_K, {0, 2, -1}}, {DType::Q5_K, {0, 2, -1}}, {DType::Q6_K, {208, -1}},  {DType::IQ4_XS, {0, -1}},
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
      std::memcpy(out + b * dtype_block_bytes(t) + f->at[k], &h, 2);
    }
}

}  // namespace mla::bench
