// Each block format's unpacker to the unsigned-byte form of int8_unpack.h. Layouts and the order
// of values inside a block: quants/block_formats.h and the decoders in quants/dequantize.cpp.
#include "quants/int8_unpack.h"

#include <cstring>

#include "quants/block_formats.h"

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

constexpr Int8Form kForms[] = {
    {DType::Q8_0, 128, 32, false, unpack_q8_0},  {DType::Q4_0, 8, 32, false, unpack_q4_0},
    {DType::Q4_1, 0, 32, true, unpack_q4_1},     {DType::Q5_0, 16, 32, false, unpack_q5_0},
    {DType::Q5_1, 0, 32, true, unpack_q5_1},     {DType::IQ4_NL, 128, 32, false, unpack_iq4_nl},
    {DType::Q2_K, 0, 16, true, unpack_q2_k},     {DType::Q3_K, 4, 16, false, unpack_q3_k},
    {DType::Q4_K, 0, 32, true, unpack_q4_k},     {DType::Q5_K, 0, 32, true, unpack_q5_k},
    {DType::Q6_K, 32, 16, false, unpack_q6_k},   {DType::IQ4_XS, 128, 32, false, unpack_iq4_xs},
};

}  // namespace

const Int8Form* int8_form(DType t) {
  for (const Int8Form& f : kForms)
    if (f.dtype == t) return &f;
  return nullptr;
}

}  // namespace mla
