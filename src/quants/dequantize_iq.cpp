// Scalar decoders of the lattice i-quants. Common shape: a block of 256 values = 8 sub-blocks of
// 32; values come in groups of 8 (IQ2, IQ1) or 4 (IQ3) whose magnitudes are one grid entry of
// quants/iq_tables.h; a sub-block scale multiplies the group. "Sign code c" (7 bits) means the 8
// signs of kIq2xsSigns[c]: bit j set = value j of the group negated. Words (u16 / u32) are
// little-endian. Formulas and layouts from ggml's ggml-quants.c dequantize_row_iq*; the float
// operations are in ggml's order so results are bit-equal.
#include "quants/dequantize_iq.h"

#include <cstring>

#include "quants/block_formats.h"
#include "quants/iq_tables.h"
#include "tensor/dtype.h"

namespace mla {
namespace {

template <class Block>
Block block_at(const uint8_t* p, int64_t i) {
  Block b;
  std::memcpy(&b, p + i * static_cast<int64_t>(sizeof(Block)), sizeof(Block));
  return b;
}

uint32_t u32_at(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// y[j] = scale * byte j of `entry` (j < count), negated where bit j of `signs` is set.
void signed_group(float scale, uint64_t entry, int signs, int count, float* y) {
  for (int j = 0; j < count; ++j) {
    const float v = scale * static_cast<float>(grid_byte(entry, j));
    y[j] = (signs >> j) & 1 ? -v : v;
  }
}

// IQ1: y[j] = scale * (signed byte j of `entry` + delta), j < 8.
void shifted_group(float scale, uint64_t entry, float delta, float* y) {
  for (int j = 0; j < 8; ++j) y[j] = scale * (static_cast<float>(grid_signed_byte(entry, j)) + delta);
}

}  // namespace

// IQ2_XXS (66 B: f16 d, u16 qs[32]). Sub-block ib owns qs bytes 8ib..8ib+7 read as two u32 a0, a1:
// byte l of a0 = kIq2xxsGrid index of group l (values 8l..8l+7), bits 7l..7l+6 of a1 = its sign
// code, bits 28..31 of a1 = scale s. value = d * (0.5 + s) * 0.25 * grid * sign.
void dequant_iq2_xxs(const uint8_t* p, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const auto x = block_at<BlockIQ2_XXS>(p, b);
    const float d = f16_to_f32(x.d);
    const auto* qs = reinterpret_cast<const uint8_t*>(x.qs);
    for (int ib = 0; ib < 8; ++ib) {
      const uint32_t a0 = u32_at(qs + 8 * ib), a1 = u32_at(qs + 8 * ib + 4);
      const float db = d * (0.5f + static_cast<float>(a1 >> 28)) * 0.25f;
      for (int l = 0; l < 4; ++l, y += 8)
        signed_group(db, kIq2xxsGrid[(a0 >> (8 * l)) & 255], kIq2xsSigns[(a1 >> (7 * l)) & 127], 8, y);
    }
  }
}

// IQ2_XS (74 B: f16 d, u16 qs[32], u8 scales[8]). Group g (values 8g..8g+7): qs[g] = kIq2xsGrid
// index (bits 0..8) | sign code << 9. Sub-block ib: groups 0-1 use the low nibble s of scales[ib],
// groups 2-3 the high one. value = d * (0.5 + s) * 0.25 * grid * sign.
void dequant_iq2_xs(const uint8_t* p, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const auto x = block_at<BlockIQ2_XS>(p, b);
    const float d = f16_to_f32(x.d);
    for (int ib = 0; ib < 8; ++ib) {
      const float db[2] = {d * (0.5f + static_cast<float>(x.scales[ib] & 15)) * 0.25f,
                           d * (0.5f + static_cast<float>(x.scales[ib] >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint16_t q = x.qs[4 * ib + l];
        signed_group(db[l / 2], kIq2xsGrid[q & 511], kIq2xsSigns[q >> 9], 8, y);
      }
    }
  }
}

// IQ2_S (82 B: f16 d, u8 qs[64], u8 qh[8], u8 scales[8]). Group g = 4ib + l: kIq2sGrid index =
// qs[g] | ((qh[ib] >> 2l) & 3) << 8; its 8 signs are the raw bits of qs[32 + g] (no parity rule).
// Scales as IQ2_XS: value = d * (0.5 + s) * 0.25 * grid * sign.
void dequant_iq2_s(const uint8_t* p, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const auto x = block_at<BlockIQ2_S>(p, b);
    const float d = f16_to_f32(x.d);
    for (int ib = 0; ib < 8; ++ib) {
      const float db[2] = {d * (0.5f + static_cast<float>(x.scales[ib] & 15)) * 0.25f,
                           d * (0.5f + static_cast<float>(x.scales[ib] >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        const int g = 4 * ib + l;
        const int index = x.qs[g] | ((x.qh[ib] >> (2 * l)) & 3) << 8;
        signed_group(db[l / 2], kIq2sGrid[index], x.qs[32 + g], 8, y);
      }
    }
  }
}

// IQ3_XXS (98 B: f16 d, u8 qs[96]). qs[k] (k < 64) = kIq3xxsGrid index of values 4k..4k+3. Sub-block
// ib: u32 w at qs[64 + 4ib]; bits 7l..7l+6 = sign code of its values 8l..8l+7 (grid indices
// qs[8ib + 2l], qs[8ib + 2l + 1]), bits 28..31 = scale s. value = d * (0.5 + s) * 0.5 * grid * sign.
void dequant_iq3_xxs(const uint8_t* p, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const auto x = block_at<BlockIQ3_XXS>(p, b);
    const float d = f16_to_f32(x.d);
    for (int ib = 0; ib < 8; ++ib) {
      const uint32_t w = u32_at(x.qs + 64 + 4 * ib);
      const float db = d * (0.5f + static_cast<float>(w >> 28)) * 0.5f;
      for (int l = 0; l < 4; ++l, y += 8) {
        const int signs = kIq2xsSigns[(w >> (7 * l)) & 127];
        signed_group(db, kIq3xxsGrid[x.qs[8 * ib + 2 * l]], signs, 4, y);
        signed_group(db, kIq3xxsGrid[x.qs[8 * ib + 2 * l + 1]], signs >> 4, 4, y + 4);
      }
    }
  }
}

// IQ3_S (110 B: f16 d, u8 qs[64], u8 qh[8], u8 signs[32], u8 scales[4]). Values 4k..4k+3 (k < 64):
// kIq3sGrid index = qs[k] | ((qh[k / 8] >> (k % 8)) & 1) << 8. Values 8g..8g+7: raw sign bits
// signs[g] (no parity rule). Sub-block ib: scale s = nibble ib % 2 of scales[ib / 2].
// value = d * (1 + 2s) * grid * sign.
void dequant_iq3_s(const uint8_t* p, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const auto x = block_at<BlockIQ3_S>(p, b);
    const float d = f16_to_f32(x.d);
    for (int ib = 0; ib < 8; ++ib) {
      const float db = d * static_cast<float>(1 + 2 * ((x.scales[ib / 2] >> (4 * (ib % 2))) & 15));
      for (int l = 0; l < 4; ++l, y += 8) {
        const int g = 4 * ib + l;
        for (int h = 0; h < 2; ++h) {
          const int k = 2 * g + h;
          const int index = x.qs[k] | ((x.qh[k / 8] >> (k % 8)) & 1) << 8;
          signed_group(db, kIq3sGrid[index], x.signs[g] >> (4 * h), 4, y + 4 * h);
        }
      }
    }
  }
}

// IQ1_S (50 B: f16 d, u8 qs[32], u16 qh[8]). Group g = 4ib + l: kIq1sGrid index = qs[g] |
// ((qh[ib] >> 3l) & 7) << 8. qh[ib] bits 12..14 = scale s, bit 15 = delta sign (set: -kIq1sDelta).
// value = d * (2s + 1) * (grid + delta), grid in {-1, 0, 1}.
void dequant_iq1_s(const uint8_t* p, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const auto x = block_at<BlockIQ1_S>(p, b);
    const float d = f16_to_f32(x.d);
    for (int ib = 0; ib < 8; ++ib) {
      const int h = x.qh[ib];
      const float dl = d * static_cast<float>(2 * ((h >> 12) & 7) + 1);
      const float delta = h & 0x8000 ? -kIq1sDelta : kIq1sDelta;
      for (int l = 0; l < 4; ++l, y += 8)
        shifted_group(dl, kIq1sGrid[x.qs[4 * ib + l] | ((h >> (3 * l)) & 7) << 8], delta, y);
    }
  }
}

uint16_t iq1_m_super_scale(const uint8_t scales[8]) {
  uint16_t bits = 0;
  for (int k = 0; k < 4; ++k) bits |= static_cast<uint16_t>((scales[2 * k + 1] >> 4) << (4 * k));
  return bits;
}

// IQ1_M (56 B: u8 qs[32], u8 qh[16], u8 scales[8]; f16 d from iq1_m_super_scale). Group g = 4ib + l:
// nibble c = (qh[2ib + l / 2] >> 4 (l % 2)) & 15; kIq1sGrid index = qs[g] | (c & 7) << 8, c bit 3 =
// delta sign (set: -kIq1mDelta). Scales as u16 words sc[4]: groups 0-1 of sub-block ib use
// s = (sc[ib / 2] >> 6 (ib % 2)) & 7, groups 2-3 the next 3 bits. value = d * (2s + 1) * (grid + delta).
void dequant_iq1_m(const uint8_t* p, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const auto x = block_at<BlockIQ1_M>(p, b);
    const float d = f16_to_f32(iq1_m_super_scale(x.scales));
    for (int ib = 0; ib < 8; ++ib) {
      const int sc = x.scales[ib / 2 * 2] | x.scales[ib / 2 * 2 + 1] << 8;
      const int shift = 6 * (ib % 2);
      const float dl[2] = {d * static_cast<float>(2 * ((sc >> shift) & 7) + 1),
                           d * static_cast<float>(2 * ((sc >> (shift + 3)) & 7) + 1)};
      for (int l = 0; l < 4; ++l, y += 8) {
        const int c = (x.qh[2 * ib + l / 2] >> (4 * (l % 2))) & 15;
        const float delta = c & 8 ? -kIq1mDelta : kIq1mDelta;
        shifted_group(dl[l / 2], kIq1sGrid[x.qs[4 * ib + l] | (c & 7) << 8], delta, y);
      }
    }
  }
}

}  // namespace mla
