// Element types of stored weights and their conversions to f32.
#pragma once
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace mla {

enum class DType { F32, F16, BF16, F8_E4M3 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);                                // "F32", "BF16", ... (safetensors spelling)
std::optional<DType> dtype_from_name(std::string_view name);  // safetensors spelling

inline float bf16_to_f32(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Round to nearest even; NaN stays NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);  // round to nearest even, overflow to inf

// OCP FP8 E4M3 ("e4m3fn", as torch.float8_e4m3fn): bias 7, no infinities, 0x7f/0xff are NaN.
float fp8_e4m3_to_f32(uint8_t v);
// Lookup table of all 256 codes, for kernels.
const float* fp8_e4m3_table();

}  // namespace mla
