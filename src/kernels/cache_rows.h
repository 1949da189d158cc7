// Cache rows in their stored element type (kv::CacheDtype): f32 values in, f32 values out. One row
// is one token's cache row of one layer, `n` values, kv::row_bytes(n, dtype) bytes:
//   f32, bf16, f16   n plain values (bf16/f16 rounded to nearest even)
//   q8_0             ceil(n / 32) GGUF blocks {f16 d, int8 q[32]}, value = d * q; d = amax / 127 per
//                    block (ggml's quantize_row_q8_0); a partial last block is zero-padded
//   fp8              ceil(n / 128) blocks {f32 s, e4m3 q[<= 128]}, value = s * e4m3(q); s = amax / 448
//                    per block of 128 values (448 = the largest e4m3 value), so every block uses the
//                    whole e4m3 range; the scale granularity is DeepSeek-V3's 1 x 128 activation
//                    tiles (V3 paper sec. 3.3.1). The last block holds only the values left (n % 128).
#pragma once
#include <cstdint>

#include "kv/kv_accounting.h"

namespace mla {

inline constexpr int64_t kFp8CacheBlock = kv::kFp8ScaleValues;  // values per fp8 scale

// out[row_bytes(n, d)] = the n values of `in` in format d.
void encode_cache_row(kv::CacheDtype d, const float* in, int64_t n, uint8_t* out);

// out[0 .. count) = values [begin, begin + count) of a stored row (any begin: block formats decode
// the blocks that hold the range). Explicit AVX-512 conversions where the kernels use them.
void decode_cache_values(kv::CacheDtype d, const uint8_t* row, int64_t begin, int64_t count, float* out);

// Prefetches (into L2) the bytes that hold values [begin, begin + count) of a stored row: typed tiles
// are decoded in steps, and the next step's rows are fetched while this step computes.
void prefetch_cache_values(kv::CacheDtype d, const uint8_t* row, int64_t begin, int64_t count);

// f32 -> OCP e4m3 (e4m3fn): round to nearest even, saturating at +-448, NaN -> 0x7f.
uint8_t f32_to_fp8_e4m3(float x);

}  // namespace mla
