// Each block format's unpacker to the unsigned-byte form of int8_unpack.h. Layouts and the order
// of values inside a block: quants/block_formats.h and the decoders in quants/dequantize.cpp.
#include "quants/int8_unpack.h"

#include <cstring>

#include "quants/block_formats.h"
#include "quants/dequantize_iq.h"
#include "quants/iq_tables.h"

namespace mla {
namespace {

float h2f(const uint16_t& h) { return f16_to_f32(h); }

// The block of type B holding 32-value block b (B holds kValues / 32 of them) and b's index in it.
template <class B, int kValues>
const B& block_at(const uint8_t* row, int64_t b, int& j) {
  j = static_cast<int>(b % (kValues / 32));
  return reinterpret_cast<const B*>(row)[b / (kValues / 32)];
}

void unpack_q8_0(const uint8_t* row, int64_t b, uint8_t* u, float* d, float*) {
  int j;
  const auto& x = block_at<BlockQ8_0, 32>(row, b, j);
  for (int v = 0; v < 32; ++v) u[v] = static_cast<uint8_t>(x.q[v]) ^ 0x80;  // q + 128
  d[0] = h2f(x.d);
}

// The 32 values of a Q4_0 / Q4_1 / IQ4_NL block: value v < 16 in the low nibble of byte v, value
// v + 16 in its high nibble.
void nibbles(const uint8_t qs[16], uint8_t* u) {
  for (int v = 0; v < 16; ++v) {
    u[v] = qs[v] & 15;
    u[v + 16] = qs[v] >> 4;
  }
}

void unpack_q4_0(const uint8_t* row, int64_t b, uint8_t* u, float* d, float*) {
  int j;
  const auto& x = block_at<BlockQ4_0, 32>(row, b, j);
  nibbles(x.qs, u);
  d[0] = h2f(x.d);
}

void unpack_q4_1(const uint8_t* row, int64_t b, uint8_t* u, float* d, float* m) {
  int j;
  const auto& x = block_at<BlockQ4_1, 32>(row, b, j);
  nibbles(x.qs, u);
  d[0] = h2f(x.d);
  m[0] = h2f(x.m);
}

// Q5_0 / Q5_1: the nibbles plus bit v of the little-endian qh as bit 4 of value v.
void nibbles5(const uint8_t qs[16], const uint8_t qh[4], uint8_t* u) {
  uint32_t high;
  std::memcpy(&high, qh, 4);
  nibbles(qs, u);
  for (int v = 0; v < 32; ++v) u[v] = static_cast<uint8_t>(u[v] | ((high >> v) & 1u) << 4);
}

void unpack_q5_0(const uint8_t* row, int64_t b, uint8_t* u, float* d, float*) {
  int j;
  const auto& x = block_at<BlockQ5_0, 32>(row, b, j);
  nibbles5(x.qs, x.qh, u);
  d[0] = h2f(x.d);
}

void unpack_q5_1(const uint8_t* row, int64_t b, uint8_t* u, float* d, float* m) {
  int j;
  const auto& x = block_at<BlockQ5_1, 32>(row, b, j);
  nibbles5(x.qs, x.qh, u);
  d[0] = h2f(x.d);
  m[0] = h2f(x.m);
}

// IQ4_NL / IQ4_XS: the code's table value + 128.
void iq4_values(const uint8_t qs[16], uint8_t* u) {
  nibbles(qs, u);
  for (int v = 0; v < 32; ++v) u[v] = static_cast<uint8_t>(kIq4nlValues[u[v]] + 128);
}

void unpack_iq4_nl(const uint8_t* row, int64_t b, uint8_t* u, float* d, float*) {
  int j;
  const auto& x = block_at<BlockIQ4_NL, 32>(row, b, j);
  iq4_values(x.qs, u);
  d[0] = h2f(x.d);
}

void unpack_iq4_xs(const uint8_t* row, int64_t b, uint8_t* u, float* d, float*) {
  int j;
  const auto& x = block_at<BlockIQ4_XS, 256>(row, b, j);
  iq4_values(x.qs + 16 * j, u);
  const int ls = ((x.scales_l[j / 2] >> (4 * (j % 2))) & 15) | ((x.scales_h >> (2 * j)) & 3) << 4;
  d[0] = h2f(x.d) * static_cast<float>(ls - 32);
}

// Q2_K / Q3_K: 32-value block j is bits 2 (j % 4) of qs[32 (j / 4) + l], l < 32; its two 16-value
// halves have scales 2j and 2j + 1.
void unpack_q2_k(const uint8_t* row, int64_t b, uint8_t* u, float* d, float* m) {
  int j;
  const auto& x = block_at<BlockQ2_K, 256>(row, b, j);
  const uint8_t* q = x.qs + 32 * (j / 4);
  for (int l = 0; l < 32; ++l) u[l] = (q[l] >> (2 * (j % 4))) & 3;
  const float dd = h2f(x.d), dmin = h2f(x.dmin);
  for (int h = 0; h < 2; ++h) {
    d[h] = dd * static_cast<float>(x.scales[2 * j + h] & 15);
    m[h] = -dmin * static_cast<float>(x.scales[2 * j + h] >> 4);
  }
}

// Q3_K: u = the 2-bit field + 4 * the hmask bit (4 (j / 4) + j % 4 = j) so that u - 4 is the value.
void unpack_q3_k(const uint8_t* row, int64_t b, uint8_t* u, float* d, float*) {
  int j;
  const auto& x = block_at<BlockQ3_K, 256>(row, b, j);
  const uint8_t* q = x.qs + 32 * (j / 4);
  for (int l = 0; l < 32; ++l) u[l] = static_cast<uint8_t>(((q[l] >> (2 * (j % 4))) & 3) | ((x.hmask[l] >> j) & 1) << 2);
  int scales[16];
  q3_k_scales(x.scales, scales);
  const float dd = h2f(x.d);
  for (int h = 0; h < 2; ++h) d[h] = dd * static_cast<float>(scales[2 * j + h]);
}

// Q4_K / Q5_K: block j is nibble j % 2 of qs[32 (j / 2) + l] (and bit j of qh[l] as bit 4).
void unpack_q4_k(const uint8_t* row, int64_t b, uint8_t* u, float* d, float* m) {
  int j;
  const auto& x = block_at<BlockQ4_K, 256>(row, b, j);
  const uint8_t* q = x.qs + 32 * (j / 2);
  for (int l = 0; l < 32; ++l) u[l] = (q[l] >> (4 * (j % 2))) & 15;
  int sc, mn;
  k4_scale_min(x.scales, j, sc, mn);
  d[0] = h2f(x.d) * static_cast<float>(sc);
  m[0] = -h2f(x.dmin) * static_cast<float>(mn);
}

void unpack_q5_k(const uint8_t* row, int64_t b, uint8_t* u, float* d, float* m) {
  int j;
  const auto& x = block_at<BlockQ5_K, 256>(row, b, j);
  const uint8_t* q = x.qs + 32 * (j / 2);
  for (int l = 0; l < 32; ++l) u[l] = static_cast<uint8_t>(((q[l] >> (4 * (j % 2))) & 15) | ((x.qh[l] >> j) & 1) << 4);
  int sc, mn;
  k4_scale_min(x.scales, j, sc, mn);
  d[0] = h2f(x.d) * static_cast<float>(sc);
  m[0] = -h2f(x.dmin) * static_cast<float>(mn);
}

// Q6_K: block j = 4 h + s: low 4 bits in nibble s / 2 of ql[64 h + 32 (s % 2) + l], high 2 bits at
// bits 2s of qh[32 h + l]; u - 32 is the value; halves scaled by scales[8 h + 2 s + 0 / 1].
void unpack_q6_k(const uint8_t* row, int64_t b, uint8_t* u, float* d, float*) {
  int j;
  const auto& x = block_at<BlockQ6_K, 256>(row, b, j);
  const int h = j / 4, s = j % 4;
  for (int l = 0; l < 32; ++l) {
    const int low = (x.ql[64 * h + 32 * (s % 2) + l] >> (4 * (s / 2))) & 15, high = (x.qh[32 * h + l] >> (2 * s)) & 3;
    u[l] = static_cast<uint8_t>(low | high << 4);
  }
  const float dd = h2f(x.d);
  for (int k = 0; k < 2; ++k) d[k] = dd * static_cast<float>(x.scales[8 * h + 2 * s + k]);
}

// ---- Lattice i-quants: each value is +-grid (or 8 grid +- 1 for IQ1), stored as that + off. ----

// u[j] = off + (sign j set ? -1 : 1) * byte j of `entry`, j < count.
void signed_grid(uint64_t entry, int signs, int count, int off, uint8_t* u) {
  for (int j = 0; j < count; ++j) {
    const int v = grid_byte(entry, j);
    u[j] = static_cast<uint8_t>(off + ((signs >> j) & 1 ? -v : v));
  }
}

uint32_t u32_at(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

constexpr int kLatticeOff = 64;  // grid magnitudes are at most 62

// IQ2_XXS: sub-block j's two u32 a0 (grid indices) and a1 (sign codes, scale in bits 28..31).
void unpack_iq2_xxs(const uint8_t* row, int64_t b, uint8_t* u, float* d, float*) {
  int j;
  const auto& x = block_at<BlockIQ2_XXS, 256>(row, b, j);
  const auto* qs = reinterpret_cast<const uint8_t*>(x.qs) + 8 * j;
  const uint32_t a0 = u32_at(qs), a1 = u32_at(qs + 4);
  for (int l = 0; l < 4; ++l)
    signed_grid(kIq2xxsGrid[(a0 >> (8 * l)) & 255], kIq2xsSigns[(a1 >> (7 * l)) & 127], 8, kLatticeOff, u + 8 * l);
  d[0] = h2f(x.d) * (0.5f + static_cast<float>(a1 >> 28)) * 0.25f;
}

// IQ2_XS / IQ2_S: 16-value halves scaled by the nibbles of scales[j].
void unpack_iq2_xs(const uint8_t* row, int64_t b, uint8_t* u, float* d, float*) {
  int j;
  const auto& x = block_at<BlockIQ2_XS, 256>(row, b, j);
  for (int l = 0; l < 4; ++l) {
    const uint16_t q = x.qs[4 * j + l];
    signed_grid(kIq2xsGrid[q & 511], kIq2xsSigns[q >> 9], 8, kLatticeOff, u + 8 * l);
  }
  for (int h = 0; h < 2; ++h) d[h] = h2f(x.d) * (0.5f + static_cast<float>((x.scales[j] >> (4 * h)) & 15)) * 0.25f;
}

void unpack_iq2_s(const uint8_t* row, int64_t b, uint8_t* u, float* d, float*) {
  int j;
  const auto& x = block_at<BlockIQ2_S, 256>(row, b, j);
  for (int l = 0; l < 4; ++l) {
    const int g = 4 * j + l;
    signed_grid(kIq2sGrid[x.qs[g] | ((x.qh[j] >> (2 * l)) & 3) << 8], x.qs[32 + g], 8, kLatticeOff, u + 8 * l);
  }
  for (int h = 0; h < 2; ++h) d[h] = h2f(x.d) * (0.5f + static_cast<float>((x.scales[j] >> (4 * h)) & 15)) * 0.25f;
}

void unpack_iq3_xxs(const uint8_t* row, int64_t b, uint8_t* u, float* d, float*) {
  int j;
  const auto& x = block_at<BlockIQ3_XXS, 256>(row, b, j);
  const uint32_t w = u32_at(x.qs + 64 + 4 * j);
  for (int l = 0; l < 4; ++l) {
    const int signs = kIq2xsSigns[(w >> (7 * l)) & 127];
    signed_grid(kIq3xxsGrid[x.qs[8 * j + 2 * l]], signs, 4, kLatticeOff, u + 8 * l);
    signed_grid(kIq3xxsGrid[x.qs[8 * j + 2 * l + 1]], signs >> 4, 4, kLatticeOff, u + 8 * l + 4);
  }
  d[0] = h2f(x.d) * (0.5f + static_cast<float>(w >> 28)) * 0.5f;
}

void unpack_iq3_s(const uint8_t* row, int64_t b, uint8_t* u, float* d, float*) {
  int j;
  const auto& x = block_at<BlockIQ3_S, 256>(row, b, j);
  for (int k = 8 * j; k < 8 * j + 8; ++k) {
    const int index = x.qs[k] | ((x.qh[k / 8] >> (k % 8)) & 1) << 8;
    signed_grid(kIq3sGrid[index], x.signs[k / 2] >> (4 * (k % 2)), 4, kLatticeOff, u + 4 * (k - 8 * j));
  }
  d[0] = h2f(x.d) * static_cast<float>(1 + 2 * ((x.scales[j / 2] >> (4 * (j % 2))) & 15));
}

// IQ1_S / IQ1_M: value = dl (grid + delta), delta = +-1/8, as (dl / 8) (8 grid +- 1): u = 8 grid
// +- 1 + 16, exact in integers (dl / 8 is exact too: a power-of-two division).
constexpr int kIq1Off = 16;
void shifted_grid(uint64_t entry, bool negative_delta, uint8_t* u) {
  for (int k = 0; k < 8; ++k) u[k] = static_cast<uint8_t>(kIq1Off + 8 * grid_signed_byte(entry, k) + (negative_delta ? -1 : 1));
}

void unpack_iq1_s(const uint8_t* row, int64_t b, uint8_t* u, float* d, float*) {
  int j;
  const auto& x = block_at<BlockIQ1_S, 256>(row, b, j);
  const int h = x.qh[j];
  for (int l = 0; l < 4; ++l) shifted_grid(kIq1sGrid[x.qs[4 * j + l] | ((h >> (3 * l)) & 7) << 8], h & 0x8000, u + 8 * l);
  d[0] = h2f(x.d) * static_cast<float>(2 * ((h >> 12) & 7) + 1) / 8;
}

void unpack_iq1_m(const uint8_t* row, int64_t b, uint8_t* u, float* d, float*) {
  int j;
  const auto& x = block_at<BlockIQ1_M, 256>(row, b, j);
  for (int l = 0; l < 4; ++l) {
    const int c = (x.qh[2 * j + l / 2] >> (4 * (l % 2))) & 15;
    shifted_grid(kIq1sGrid[x.qs[4 * j + l] | (c & 7) << 8], c & 8, u + 8 * l);
  }
  const float dd = f16_to_f32(iq1_m_super_scale(x.scales));
  const int sc = x.scales[j / 2 * 2] | x.scales[j / 2 * 2 + 1] << 8, shift = 6 * (j % 2);
  for (int h = 0; h < 2; ++h) d[h] = dd * static_cast<float>(2 * ((sc >> (shift + 3 * h)) & 7) + 1) / 8;
}

constexpr Int8Form kForms[] = {
    {DType::Q8_0, 128, 32, false, unpack_q8_0},  {DType::Q4_0, 8, 32, false, unpack_q4_0},
    {DType::Q4_1, 0, 32, true, unpack_q4_1},     {DType::Q5_0, 16, 32, false, unpack_q5_0},
    {DType::Q5_1, 0, 32, true, unpack_q5_1},     {DType::IQ4_NL, 128, 32, false, unpack_iq4_nl},
    {DType::Q2_K, 0, 16, true, unpack_q2_k},     {DType::Q3_K, 4, 16, false, unpack_q3_k},
    {DType::Q4_K, 0, 32, true, unpack_q4_k},     {DType::Q5_K, 0, 32, true, unpack_q5_k},
    {DType::Q6_K, 32, 16, false, unpack_q6_k},   {DType::IQ4_XS, 128, 32, false, unpack_iq4_xs},
    {DType::IQ2_XXS, kLatticeOff, 32, false, unpack_iq2_xxs}, {DType::IQ2_XS, kLatticeOff, 16, false, unpack_iq2_xs},
    {DType::IQ2_S, kLatticeOff, 16, false, unpack_iq2_s},     {DType::IQ3_XXS, kLatticeOff, 32, false, unpack_iq3_xxs},
    {DType::IQ3_S, kLatticeOff, 32, false, unpack_iq3_s},     {DType::IQ1_S, kIq1Off, 32, false, unpack_iq1_s},
    {DType::IQ1_M, kIq1Off, 16, false, unpack_iq1_m},
};

}  // namespace

const Int8Form* int8_form(DType t) {
  for (const Int8Form& f : kForms)
    if (f.dtype == t) return &f;
  return nullptr;
}

}  // namespace mla
