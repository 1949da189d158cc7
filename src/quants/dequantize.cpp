// Scalar decoders of the legacy, K-quant and IQ4 formats (the lattice i-quants are in
// dequantize_iq.cpp), and the table that dispatches on the dtype.
#include "quants/dequantize.h"

#include <cstring>

#include "core/error.h"
#include "quants/block_formats.h"
#include "quants/dequantize_iq.h"

namespace mla {
namespace {

template <class Block>
const Block* blocks_of(const uint8_t* p, int64_t i) {
  static_assert(alignof(Block) <= 2);
  return reinterpret_cast<const Block*>(p) + i;  // GGUF data is 32-byte aligned, rows whole blocks
}

float h2f(uint16_t h) { return f16_to_f32(h); }

// The fifth bit of value j of a Q5_0 / Q5_1 block (j < 32) from its 32-bit qh.
int high_bit5(const uint8_t qh[4], int j) {
  uint32_t bits;
  std::memcpy(&bits, qh, 4);
  return static_cast<int>((bits >> j) & 1u) << 4;
}

void dequant_q4_1(const uint8_t* p, float* y, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b, y += 32) {
    const BlockQ4_1& x = *blocks_of<BlockQ4_1>(p, b);
    const float d = h2f(x.d), m = h2f(x.m);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * static_cast<float>(x.qs[j] & 15) + m;
      y[j + 16] = d * static_cast<float>(x.qs[j] >> 4) + m;
    }
  }
}

void dequant_q5_0(const uint8_t* p, float* y, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b, y += 32) {
    const BlockQ5_0& x = *blocks_of<BlockQ5_0>(p, b);
    const float d = h2f(x.d);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * static_cast<float>(((x.qs[j] & 15) | high_bit5(x.qh, j)) - 16);
      y[j + 16] = d * static_cast<float>(((x.qs[j] >> 4) | high_bit5(x.qh, j + 16)) - 16);
    }
  }
}

void dequant_q5_1(const uint8_t* p, float* y, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b, y += 32) {
    const BlockQ5_1& x = *blocks_of<BlockQ5_1>(p, b);
    const float d = h2f(x.d), m = h2f(x.m);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * static_cast<float>((x.qs[j] & 15) | high_bit5(x.qh, j)) + m;
      y[j + 16] = d * static_cast<float>((x.qs[j] >> 4) | high_bit5(x.qh, j + 16)) + m;
    }
  }
}

void dequant_iq4_nl(const uint8_t* p, float* y, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b, y += 32) {
    const BlockIQ4_NL& x = *blocks_of<BlockIQ4_NL>(p, b);
    const float d = h2f(x.d);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * static_cast<float>(kIq4nlValues[x.qs[j] & 15]);
      y[j + 16] = d * static_cast<float>(kIq4nlValues[x.qs[j] >> 4]);
    }
  }
}

// Q2_K: 16 sub-blocks of 16; byte `scales[i]` = scale (low nibble) | min (high nibble), value =
// d * scale * q - dmin * min with q the 2-bit field. The 64 qs bytes hold 128 values per half:
// value 32 * s + l of a half (s < 4, l < 32) is bits 2s..2s+1 of qs[32 * half + l].
void dequant_q2_k(const uint8_t* p, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const BlockQ2_K& x = *blocks_of<BlockQ2_K>(p, b);
    const float d = h2f(x.d), dmin = h2f(x.dmin);
    const uint8_t* q = x.qs;
    int is = 0;
    for (int half = 0; half < 2; ++half, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int l0 = 0; l0 < 32; l0 += 16) {
          const uint8_t sc = x.scales[is++];
          const float dl = d * static_cast<float>(sc & 15), ml = dmin * static_cast<float>(sc >> 4);
          for (int l = l0; l < l0 + 16; ++l) *y++ = dl * static_cast<float>((q[l] >> shift) & 3) - ml;
        }
      }
    }
  }
}

// Q3_K: value = d * (scale - 32) * (q - (high bit clear ? 4 : 0)) (scales: q3_k_scales), q the
// 2-bit field laid out as in Q2_K, the high bit of value 32 * s + l of half h in bit (4h + s) of hmask[l].
void dequant_q3_k(const uint8_t* p, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const BlockQ3_K& x = *blocks_of<BlockQ3_K>(p, b);
    const float d = h2f(x.d);
    int scales[16];
    q3_k_scales(x.scales, scales);
    const uint8_t* q = x.qs;
    int is = 0, bit = 0;
    for (int half = 0; half < 2; ++half, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, ++bit) {
        for (int l0 = 0; l0 < 32; l0 += 16) {
          const float dl = d * static_cast<float>(scales[is++]);
          for (int l = l0; l < l0 + 16; ++l) {
            const int v = ((q[l] >> shift) & 3) - ((x.hmask[l] >> bit) & 1 ? 0 : 4);
            *y++ = dl * static_cast<float>(v);
          }
        }
      }
    }
  }
}

// Q4_K: value 64 * k + l (l < 32) is the low nibble of qs[32 k + l], value 64 k + 32 + l its high
// nibble; sub-block 2k and 2k + 1 respectively. value = d * scale * q - dmin * min.
void dequant_q4_k(const uint8_t* p, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const BlockQ4_K& x = *blocks_of<BlockQ4_K>(p, b);
    const float d = h2f(x.d), dmin = h2f(x.dmin);
    for (int k = 0; k < 4; ++k) {
      const uint8_t* q = x.qs + 32 * k;
      for (int h = 0; h < 2; ++h) {
        int sc, m;
        k4_scale_min(x.scales, 2 * k + h, sc, m);
        const float dl = d * static_cast<float>(sc), ml = dmin * static_cast<float>(m);
        for (int l = 0; l < 32; ++l) *y++ = dl * static_cast<float>((q[l] >> (4 * h)) & 15) - ml;
      }
    }
  }
}

// Q5_K: Q4_K's nibbles plus a fifth bit: for sub-block j, bit j of qh[l].
void dequant_q5_k(const uint8_t* p, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const BlockQ5_K& x = *blocks_of<BlockQ5_K>(p, b);
    const float d = h2f(x.d), dmin = h2f(x.dmin);
    for (int k = 0; k < 4; ++k) {
      const uint8_t* q = x.qs + 32 * k;
      for (int h = 0; h < 2; ++h) {
        const int j = 2 * k + h;
        int sc, m;
        k4_scale_min(x.scales, j, sc, m);
        const float dl = d * static_cast<float>(sc), ml = dmin * static_cast<float>(m);
        for (int l = 0; l < 32; ++l) {
          const int v = ((q[l] >> (4 * h)) & 15) | ((x.qh[l] >> j) & 1) << 4;
          *y++ = dl * static_cast<float>(v) - ml;
        }
      }
    }
  }
}

// Q6_K: per half h (128 values), value 32 s + l (s < 4, l < 32) has its low 4 bits in
// ql[64 h + l + 32 (s & 1)] (nibble s / 2) and its high 2 bits at bits 2s of qh[32 h + l];
// value = d * scales[8 h + 2 s + l / 16] * (q - 32).
void dequant_q6_k(const uint8_t* p, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const BlockQ6_K& x = *blocks_of<BlockQ6_K>(p, b);
    const float d = h2f(x.d);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = x.ql + 64 * h;
      const uint8_t* qh = x.qh + 32 * h;
      for (int s = 0; s < 4; ++s) {
        for (int l = 0; l < 32; ++l) {
          const int low = (ql[l + 32 * (s & 1)] >> (4 * (s / 2))) & 15, high = (qh[l] >> (2 * s)) & 3;
          const float dl = d * static_cast<float>(x.scales[8 * h + 2 * s + l / 16]);
          *y++ = dl * static_cast<float>((low | high << 4) - 32);
        }
      }
    }
  }
}

// IQ4_XS: 8 sub-blocks of 32 laid out as IQ4_NL blocks (low nibbles values 0-15, high 16-31), each
// with a 6-bit scale (stored + 32): low 4 bits in nibble j % 2 of scales_l[j / 2], high 2 bits at
// bits 2j of scales_h.
void dequant_iq4_xs(const uint8_t* p, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const BlockIQ4_XS& x = *blocks_of<BlockIQ4_XS>(p, b);
    const float d = h2f(x.d);
    for (int j = 0; j < 8; ++j, y += 32) {
      const int ls = ((x.scales_l[j / 2] >> (4 * (j % 2))) & 15) | ((x.scales_h >> (2 * j)) & 3) << 4;
      const float dl = d * static_cast<float>(ls - 32);
      const uint8_t* qs = x.qs + 16 * j;
      for (int l = 0; l < 16; ++l) {
        y[l] = dl * static_cast<float>(kIq4nlValues[qs[l] & 15]);
        y[l + 16] = dl * static_cast<float>(kIq4nlValues[qs[l] >> 4]);
      }
    }
  }
}

void dequant_q8_0(const uint8_t* p, float* y, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b, y += 32) {
    const BlockQ8_0& x = *blocks_of<BlockQ8_0>(p, b);
    const float d = h2f(x.d);
    for (int j = 0; j < 32; ++j) y[j] = d * static_cast<float>(x.q[j]);
  }
}

void dequant_q4_0(const uint8_t* p, float* y, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b, y += 32) {
    const BlockQ4_0& x = *blocks_of<BlockQ4_0>(p, b);
    const float d = h2f(x.d);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * static_cast<float>((x.qs[j] & 15) - 8);
      y[j + 16] = d * static_cast<float>((x.qs[j] >> 4) - 8);
    }
  }
}

}  // namespace

DequantizeFn dequantizer(DType t) {
  switch (t) {
    case DType::Q8_0: return dequant_q8_0;
    case DType::Q4_0: return dequant_q4_0;
    case DType::Q4_1: return dequant_q4_1;
    case DType::Q5_0: return dequant_q5_0;
    case DType::Q5_1: return dequant_q5_1;
    case DType::IQ4_NL: return dequant_iq4_nl;
    case DType::Q2_K: return dequant_q2_k;
    case DType::Q3_K: return dequant_q3_k;
    case DType::Q4_K: return dequant_q4_k;
    case DType::Q5_K: return dequant_q5_k;
    case DType::Q6_K: return dequant_q6_k;
    case DType::IQ4_XS: return dequant_iq4_xs;
    case DType::IQ3_XXS: return dequant_iq3_xxs;
    case DType::IQ3_S: return dequant_iq3_s;
    case DType::IQ2_XXS: return dequant_iq2_xxs;
    case DType::IQ2_XS: return dequant_iq2_xs;
    case DType::IQ2_S: return dequant_iq2_s;
    case DType::IQ1_S: return dequant_iq1_s;
    case DType::IQ1_M: return dequant_iq1_m;
    case DType::F32:
    case DType::F16:
    case DType::BF16:
    case DType::F8_E4M3:
    case DType::U8: return nullptr;
  }
  return nullptr;
}

bool can_dequantize(DType t) { return dequantizer(t) != nullptr; }

void dequantize_row(DType t, const uint8_t* blocks, float* out, int64_t n) {
  const DequantizeFn f = dequantizer(t);
  if (f == nullptr) fail("dequantize_row: ", dtype_name(t), " is not a block format this engine decodes");
  f(blocks, out, n);
}

}  // namespace mla
