#include "kernels/cache_rows.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/matmul.h"
#include "kernels/simd.h"
#include "tensor/dtype.h"

namespace mla {
namespace {

using kv::CacheDtype;

constexpr float kFp8Max = 448.0f;
constexpr int64_t kFp8BlockBytes = 4 + kFp8CacheBlock;  // f32 scale + up to 128 codes

// Largest |value| of x[0 .. n).
float amax(const float* x, int64_t n) {
  float m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(x[i]));
  return m;
}

void encode_q8_0(const float* in, int64_t n, uint8_t* out) {
  for (int64_t b0 = 0; b0 < n; b0 += kQuantBlock) {
    const int64_t k = std::min<int64_t>(kQuantBlock, n - b0);
    const float d = amax(in + b0, k) / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
    BlockQ8_0 blk{};
    blk.d = f32_to_f16(d);
    for (int64_t i = 0; i < k; ++i) blk.q[i] = static_cast<int8_t>(std::lround(in[b0 + i] * id));
    std::memcpy(out + b0 / kQuantBlock * sizeof(BlockQ8_0), &blk, sizeof blk);
  }
}

void encode_fp8(const float* in, int64_t n, uint8_t* out) {
  for (int64_t b0 = 0; b0 < n; b0 += kFp8CacheBlock) {
    const int64_t k = std::min(kFp8CacheBlock, n - b0);
    const float s = amax(in + b0, k) / kFp8Max, is = s != 0 ? 1.0f / s : 0.0f;
    uint8_t* blk = out + b0 / kFp8CacheBlock * kFp8BlockBytes;
    std::memcpy(blk, &s, 4);
    for (int64_t i = 0; i < k; ++i) blk[4 + i] = f32_to_fp8_e4m3(in[b0 + i] * is);
  }
}

// Values [begin, begin + count) of a q8_0 row. Runs of whole blocks go through the AVX-512
// dequantizer where the kernels use it (d * q, the same single rounding as the loop below).
void decode_q8_0(const uint8_t* row, int64_t begin, int64_t count, float* out) {
  const bool simd = kernels_use_avx512();
  const int64_t stop = begin + count;
  for (int64_t i = begin; i < stop;) {
    if (simd && i % kQuantBlock == 0 && stop - i >= kQuantBlock) {
      const int64_t n = (stop - i) / kQuantBlock * kQuantBlock;
      simd::q8_0_to_f32(row + i / kQuantBlock * sizeof(BlockQ8_0), out + (i - begin), n);
      i += n;
      continue;
    }
    BlockQ8_0 blk;
    std::memcpy(&blk, row + i / kQuantBlock * sizeof(BlockQ8_0), sizeof blk);
    const float d = f16_to_f32(blk.d);
    const int64_t end = std::min(stop, (i / kQuantBlock + 1) * kQuantBlock);
    for (; i < end; ++i) out[i - begin] = d * static_cast<float>(blk.q[i % kQuantBlock]);
  }
}

void decode_fp8(const uint8_t* row, int64_t begin, int64_t count, float* out) {
  const float* lut = fp8_e4m3_table();
  const bool simd = kernels_use_avx512();
  for (int64_t i = begin; i < begin + count;) {
    const uint8_t* blk = row + i / kFp8CacheBlock * kFp8BlockBytes;
    float s;
    std::memcpy(&s, blk, 4);
    const int64_t end = std::min(begin + count, (i / kFp8CacheBlock + 1) * kFp8CacheBlock);
    if (simd) {
      simd::fp8_e4m3_to_f32(blk + 4 + i % kFp8CacheBlock, s, out + (i - begin), end - i);
      i = end;
      continue;
    }
    for (; i < end; ++i) out[i - begin] = s * lut[blk[4 + i % kFp8CacheBlock]];
  }
}

// Byte offset of value i inside a stored row.
int64_t byte_of(CacheDtype d, int64_t i) {
  switch (d) {
    case CacheDtype::F32: return 4 * i;
    case CacheDtype::BF16:
    case CacheDtype::F16: return 2 * i;
    case CacheDtype::FP8: return i / kFp8CacheBlock * kFp8BlockBytes + 4 + i % kFp8CacheBlock;
    case CacheDtype::Q8_0: return i / kQuantBlock * static_cast<int64_t>(sizeof(BlockQ8_0)) + 2 + i % kQuantBlock;
  }
  return 0;
}

}  // namespace

void prefetch_cache_values(CacheDtype d, const uint8_t* row, int64_t begin, int64_t count) {
  // From the line holding the first byte (fp8 / q8_0: its block's scale) to the line of the last.
  const int64_t first = byte_of(d, begin) & ~int64_t{63}, last = byte_of(d, begin + count - 1);
  for (int64_t o = first; o <= last; o += 64) __builtin_prefetch(row + o, 0, 2);
}

uint8_t f32_to_fp8_e4m3(float x) {
  if (std::isnan(x)) return 0x7f;
  const uint8_t sign = std::signbit(x) ? 0x80 : 0;
  const float a = std::fabs(x);
  if (a >= kFp8Max) return sign | 0x7e;
  // Subnormals (below 2^-6) are multiples of 2^-9; a round-up to 8 x 2^-9 is the smallest normal,
  // whose code is 8 too.
  if (a < 0x1p-6f) return sign | static_cast<uint8_t>(std::nearbyint(a * 0x1p9f));
  int e;
  const float m = std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  int q = static_cast<int>(std::nearbyint((m * 2 - 1) * 8));  // 3 mantissa bits, nearest even
  int biased = e - 1 + 7;
  if (q == 8) q = 0, ++biased;
  if (biased > 15 || (biased == 15 && q == 7)) return sign | 0x7e;  // 0x7f is NaN: saturate at 448
  return sign | static_cast<uint8_t>(biased << 3 | q);
}

void encode_cache_row(CacheDtype d, const float* in, int64_t n, uint8_t* out) {
  switch (d) {
    case CacheDtype::F32: std::memcpy(out, in, n * sizeof(float)); return;
    case CacheDtype::BF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = f32_to_bf16(in[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    case CacheDtype::F16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = f32_to_f16(in[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    case CacheDtype::FP8: encode_fp8(in, n, out); return;
    case CacheDtype::Q8_0: encode_q8_0(in, n, out); return;
  }
}

void decode_cache_values(CacheDtype d, const uint8_t* row, int64_t begin, int64_t count, float* out) {
  switch (d) {
    case CacheDtype::F32: std::memcpy(out, row + begin * sizeof(float), count * sizeof(float)); return;
    case CacheDtype::BF16: {
      const auto* h = reinterpret_cast<const uint16_t*>(row) + begin;
      if (kernels_use_avx512()) return simd::bf16_to_f32(h, out, count);
      for (int64_t i = 0; i < count; ++i) out[i] = bf16_to_f32(h[i]);
      return;
    }
    case CacheDtype::F16: {
      const auto* h = reinterpret_cast<const uint16_t*>(row) + begin;
      if (kernels_use_avx512()) return simd::f16_to_f32(h, out, count);
      for (int64_t i = 0; i < count; ++i) out[i] = f16_to_f32(h[i]);
      return;
    }
    case CacheDtype::FP8: decode_fp8(row, begin, count, out); return;
    case CacheDtype::Q8_0: decode_q8_0(row, begin, count, out); return;
  }
}

}  // namespace mla
