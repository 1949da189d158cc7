// Element types of stored weights and their conversions to f32.
#pragma once
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace mla {

// Q8_0 and Q4_0 are GGUF's block formats (ggml-common.h), blocks of 32 consecutive values of a row:
//   Q8_0: 34 bytes = f16 d, int8 q[32];            value[i] = d * q[i]
//   Q4_0: 18 bytes = f16 d, uint8 qs[16];          value[i] = d * ((qs[i] & 15) - 8),
//                                                  value[i + 16] = d * ((qs[i] >> 4) - 8)   (i < 16)
// U8 is raw bytes as a safetensors file stores them: quantized checkpoints written by `mla quantize`
// hold each block-format tensor as U8 [rows, row_bytes], and the checkpoint loader turns those into
// Q8_0 / Q4_0 views from the file's metadata (model/checkpoint.h). No kernel reads U8.
// The other block formats are ggml's legacy, K-quant and i-quant types, laid out in
// quants/block_formats.h and read by quants/dequantize.h.
enum class DType {
  F32, F16, BF16, F8_E4M3, Q8_0, Q4_0, U8,
  Q4_1, Q5_0, Q5_1, IQ4_NL,                     // 32 values per block
  Q2_K, Q3_K, Q4_K, Q5_K, Q6_K,                 // 256 values per block
  IQ4_XS, IQ3_XXS, IQ3_S, IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S, IQ1_M,
};

constexpr int64_t kQuantBlock = 32;  // values per Q8_0 / Q4_0 block
struct BlockQ8_0 {
  uint16_t d;  // f16 scale
  int8_t q[kQuantBlock];
};
struct BlockQ4_0 {
  uint16_t d;  // f16 scale
  uint8_t qs[kQuantBlock / 2];
};
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18, "GGUF block layouts");

// Values per storage block (1 for the element types, 32 or 256 for block formats) and bytes per block.
int64_t dtype_block_values(DType t);
size_t dtype_block_bytes(DType t);
bool dtype_is_quantized(DType t);  // every block format (Q8_0, Q4_0, Q4_K, IQ2_XXS, ...)
// Bytes of a row of `cols` values; cols must be a multiple of dtype_block_values(t) (checked by loaders).
size_t dtype_row_bytes(DType t, int64_t cols);
// Bytes per value of an element type (F32, F16, BF16, F8_E4M3, U8); not defined for block types.
size_t dtype_size(DType t);
const char* dtype_name(DType t);                                // "F32", "BF16", "Q8_0", "Q4_K", ...
std::optional<DType> dtype_from_name(std::string_view name);  // safetensors spelling (element types only)
// A block format by its ggml name, upper or lower case ("Q8_0", "q4_k", "IQ2_XXS").
std::optional<DType> quant_type_from_name(std::string_view name);

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
