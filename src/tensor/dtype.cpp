#include "tensor/dtype.h"

#include <array>
#include <cctype>
#include <cmath>
#include <iterator>

namespace mla {

namespace {

struct DTypeInfo {
  DType type;
  const char* name;
  int64_t block_values;  // 1 for element types
  size_t block_bytes;
};

// Block sizes: ggml-common.h (quants/block_formats.h asserts them against the structs).
constexpr DTypeInfo kInfo[] = {
    {DType::F32, "F32", 1, 4},           {DType::F16, "F16", 1, 2},          {DType::BF16, "BF16", 1, 2},
    {DType::F8_E4M3, "F8_E4M3", 1, 1},   {DType::Q8_0, "Q8_0", 32, 34},      {DType::Q4_0, "Q4_0", 32, 18},
    {DType::U8, "U8", 1, 1},             {DType::Q4_1, "Q4_1", 32, 20},      {DType::Q5_0, "Q5_0", 32, 22},
    {DType::Q5_1, "Q5_1", 32, 24},       {DType::IQ4_NL, "IQ4_NL", 32, 18},  {DType::Q2_K, "Q2_K", 256, 84},
    {DType::Q3_K, "Q3_K", 256, 110},     {DType::Q4_K, "Q4_K", 256, 144},    {DType::Q5_K, "Q5_K", 256, 176},
    {DType::Q6_K, "Q6_K", 256, 210},     {DType::IQ4_XS, "IQ4_XS", 256, 136}, {DType::IQ3_XXS, "IQ3_XXS", 256, 98},
    {DType::IQ3_S, "IQ3_S", 256, 110},   {DType::IQ2_XXS, "IQ2_XXS", 256, 66}, {DType::IQ2_XS, "IQ2_XS", 256, 74},
    {DType::IQ2_S, "IQ2_S", 256, 82},    {DType::IQ1_S, "IQ1_S", 256, 50},   {DType::IQ1_M, "IQ1_M", 256, 56},
};

constexpr bool table_in_enum_order() {
  for (size_t i = 0; i < std::size(kInfo); ++i)
    if (static_cast<size_t>(kInfo[i].type) != i) return false;
  return true;
}
static_assert(table_in_enum_order() && std::size(kInfo) == static_cast<size_t>(DType::IQ1_M) + 1);

const DTypeInfo& info(DType t) { return kInfo[static_cast<size_t>(t)]; }

}  // namespace

int64_t dtype_block_values(DType t) { return info(t).block_values; }
size_t dtype_block_bytes(DType t) { return info(t).block_bytes; }
bool dtype_is_quantized(DType t) { return info(t).block_values > 1; }

size_t dtype_row_bytes(DType t, int64_t cols) {
  return static_cast<size_t>(cols / dtype_block_values(t)) * dtype_block_bytes(t);
}

size_t dtype_size(DType t) { return dtype_is_quantized(t) ? 0 : dtype_block_bytes(t); }

const char* dtype_name(DType t) { return info(t).name; }

std::optional<DType> dtype_from_name(std::string_view name) {
  if (name == "F32") return DType::F32;
  if (name == "F16") return DType::F16;
  if (name == "BF16") return DType::BF16;
  if (name == "F8_E4M3") return DType::F8_E4M3;
  if (name == "U8") return DType::U8;
  return std::nullopt;
}

std::optional<DType> quant_type_from_name(std::string_view name) {
  for (const DTypeInfo& i : kInfo) {
    if (i.block_values == 1 || name.size() != std::string_view(i.name).size()) continue;
    bool same = true;
    for (size_t k = 0; k < name.size() && same; ++k)
      same = std::toupper(static_cast<unsigned char>(name[k])) == i.name[k];
    if (same) return i.type;
  }
  return std::nullopt;
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1u, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  float v;
  if (exp == 0) {
    v = std::ldexp(static_cast<float>(mant), -24);  // zero or subnormal
  } else if (exp == 31) {
    v = mant ? NAN : INFINITY;
  } else {
    v = std::ldexp(static_cast<float>(mant | 0x400u), static_cast<int>(exp) - 25);
  }
  return sign ? -v : v;
}

uint16_t f32_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u;    // NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00u;   // rounds to >= 65520: inf
  if (abs < 0x38800000u) {                         // below the smallest normal: subnormal or zero
    // value = abs_float; subnormal unit is 2^-24; round half to even.
    float a;
    std::memcpy(&a, &abs, 4);
    float scaled = a * 16777216.0f;  // exact (power of two)
    return sign | static_cast<uint16_t>(std::nearbyint(scaled));
  }
  uint32_t mant = abs & 0x7fffffu;
  uint32_t exp = (abs >> 23) - 112;  // rebias 127 -> 15
  uint32_t h = (exp << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // carries into the exponent correctly
  return static_cast<uint16_t>(sign | h);
}

static std::array<float, 256> make_fp8_table() {
  std::array<float, 256> t{};
  for (int v = 0; v < 256; ++v) {
    const int sign = (v >> 7) & 1, exp = (v >> 3) & 0xf, mant = v & 0x7;
    float x;
    if (exp == 15 && mant == 7) {
      x = NAN;
    } else if (exp == 0) {
      x = std::ldexp(static_cast<float>(mant), -9);  // subnormal: mant/8 * 2^-6
    } else {
      x = std::ldexp(static_cast<float>(8 + mant), exp - 10);  // (1 + mant/8) * 2^(exp-7)
    }
    t[v] = sign ? -x : x;
  }
  return t;
}

const float* fp8_e4m3_table() {
  static const std::array<float, 256> table = make_fp8_table();
  return table.data();
}

float fp8_e4m3_to_f32(uint8_t v) { return fp8_e4m3_table()[v]; }

}  // namespace mla
