// Byte layouts of ggml's block formats beyond Q8_0 / Q4_0 (tensor/dtype.h), as GGUF files store
// them. Source: ggml's `ggml-common.h` (block_* structs, QK_K = 256, K_SCALE_SIZE = 12) and the
// sizes table GGML_QUANT_SIZES of gguf-py (`gguf/constants.py`); the value formulas are in
// quants/dequantize.cpp. All multi-byte fields are little-endian; `f16` is IEEE half.
//
// Legacy formats, 32 values per block:
//   Q4_1   20 B: f16 d, f16 m, u8 qs[16]            value = d * nibble + m
//   Q5_0   22 B: f16 d, u8 qh[4], u8 qs[16]         value = d * (nibble | 5th bit << 4) - 16 d
//   Q5_1   24 B: f16 d, f16 m, u8 qh[4], u8 qs[16]  value = d * (nibble | 5th bit << 4) + m
//   IQ4_NL 18 B: f16 d, u8 qs[16]                   value = d * kIq4nlValues[nibble]
// K-quants ("super-blocks" of 256 values in sub-blocks of 16 or 32):
//   Q2_K  84 B, Q3_K 110 B, Q4_K 144 B, Q5_K 176 B, Q6_K 210 B
// i-quants (256 values; lattice tables in quants/iq_tables.h):
//   IQ4_XS 136 B, IQ3_XXS 98 B, IQ3_S 110 B, IQ2_XXS 66 B, IQ2_XS 74 B, IQ2_S 82 B, IQ1_S 50 B,
//   IQ1_M 56 B
#pragma once
#include <cstdint>

namespace mla {

constexpr int64_t kSuperBlock = 256;  // QK_K: values per K-quant / i-quant block
constexpr int kKScaleBytes = 12;      // K_SCALE_SIZE: 8 packed 6-bit scales + 8 6-bit mins (Q4_K, Q5_K)

struct BlockQ4_1 {
  uint16_t d, m;
  uint8_t qs[16];
};
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[16];
};
struct BlockQ5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[16];
};
struct BlockIQ4_NL {
  uint16_t d;
  uint8_t qs[16];
};

struct BlockQ2_K {
  uint8_t scales[16];  // per 16 values: low nibble scale, high nibble min
  uint8_t qs[64];      // 2-bit values
  uint16_t d, dmin;
};
struct BlockQ3_K {
  uint8_t hmask[32];  // high bit of each 3-bit value
  uint8_t qs[64];     // low 2 bits
  uint8_t scales[12];  // 16 6-bit scales
  uint16_t d;
};
struct BlockQ4_K {
  uint16_t d, dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qs[128];
};
struct BlockQ5_K {
  uint16_t d, dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qh[32];
  uint8_t qs[128];
};
struct BlockQ6_K {
  uint8_t ql[128];  // low 4 bits
  uint8_t qh[64];   // high 2 bits
  int8_t scales[16];
  uint16_t d;
};

struct BlockIQ4_XS {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[4];
  uint8_t qs[128];
};
struct BlockIQ3_XXS {
  uint16_t d;
  uint8_t qs[96];  // 64 grid indices, then 8 x u32 of 4 x 7 sign bits + a 4-bit scale
};
struct BlockIQ3_S {
  uint16_t d;
  uint8_t qs[64];
  uint8_t qh[8];
  uint8_t signs[32];
  uint8_t scales[4];
};
struct BlockIQ2_XXS {
  uint16_t d;
  uint16_t qs[32];
};
struct BlockIQ2_XS {
  uint16_t d;
  uint16_t qs[32];
  uint8_t scales[8];
};
struct BlockIQ2_S {
  uint16_t d;
  uint8_t qs[64];  // 32 grid index low bytes, then 32 bytes of signs
  uint8_t qh[8];
  uint8_t scales[8];
};
struct BlockIQ1_S {
  uint16_t d;
  uint8_t qs[32];
  uint16_t qh[8];
};
struct BlockIQ1_M {
  uint8_t qs[32];
  uint8_t qh[16];
  uint8_t scales[8];  // 4-bit block scales; their top nibbles together hold the f16 super-scale
};

// IQ4_NL / IQ4_XS: the 16 values a 4-bit code stands for (ggml-common.h kvalues_iq4nl).
constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

static_assert(sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 && sizeof(BlockQ5_1) == 24 &&
                  sizeof(BlockIQ4_NL) == 18,
              "legacy block layouts");
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110 && sizeof(BlockQ4_K) == 144 &&
                  sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210,
              "K-quant block layouts");
static_assert(sizeof(BlockIQ4_XS) == 136 && sizeof(BlockIQ3_XXS) == 98 && sizeof(BlockIQ3_S) == 110 &&
                  sizeof(BlockIQ2_XXS) == 66 && sizeof(BlockIQ2_XS) == 74 && sizeof(BlockIQ2_S) == 82 &&
                  sizeof(BlockIQ1_S) == 50 && sizeof(BlockIQ1_M) == 56,
              "i-quant block layouts");

// Q4_K / Q5_K: 8 sub-blocks of 32, each with a 6-bit scale and a 6-bit min packed in 12 bytes:
// j < 4: scale = s[j] & 63, min = s[j + 4] & 63; j >= 4: scale = (s[j + 4] & 15) | (s[j - 4] >> 6) << 4,
// min = (s[j + 4] >> 4) | (s[j] >> 6) << 4.
inline void k4_scale_min(const uint8_t s[12], int j, int& scale, int& min) {
  if (j < 4) {
    scale = s[j] & 63;
    min = s[j + 4] & 63;
  } else {
    scale = (s[j + 4] & 15) | (s[j - 4] >> 6) << 4;
    min = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
  }
}

// Q3_K: the 12 scale bytes hold 16 6-bit scales, stored + 32: low 4 bits in bytes 0-7 (scale i in
// byte i % 8, nibble i / 8), high 2 bits in bytes 8-11 (byte 8 + i % 4, bits 2 (i / 4)). out: signed.
inline void q3_k_scales(const uint8_t s[12], int out[16]) {
  for (int i = 0; i < 16; ++i) {
    const int low = (s[i % 8] >> (4 * (i / 8))) & 15, high = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
    out[i] = (low | high << 4) - 32;
  }
}

}  // namespace mla
