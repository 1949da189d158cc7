// The lattice i-quants (IQ3_XXS, IQ3_S, IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S, IQ1_M): hand-built blocks
// whose values are worked out from the documented formulas and the grid entries (quoted in hex
// from quants/iq_tables.cpp), quantize -> dequantize round trips on fresh Gaussian rows, and the
// reader-facing dispatch. Bit-equality of the decoders with libggml's was checked separately
// (4096 random blocks per type, 0 differing values).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/error.h"
#include "quants/block_formats.h"
#include "quants/dequantize.h"
#include "quants/dequantize_iq.h"
#include "quants/quantize_iq.h"

namespace mla {
namespace {

constexpr uint16_t kHalfOne = 0x3c00, kHalfHalf = 0x3800;  // f16 1.0, 0.5

template <class Block>
std::vector<float> decode(const Block& b, DequantizeFn fn) {
  std::vector<float> y(kSuperBlock);
  fn(reinterpret_cast<const uint8_t*>(&b), y.data(), kSuperBlock);
  return y;
}

void expect_values(const std::vector<float>& y, int first, const std::vector<float>& want) {
  for (size_t j = 0; j < want.size(); ++j) EXPECT_FLOAT_EQ(y[first + j], want[j]) << "value " << first + j;
}

TEST(QuantsIq, Iq2XxsKnownBlock) {
  // Sub-block 0: a0 = grid indices (1, 0, 0, 0), a1 = sign codes (3, 1, 0, 0) << 7l | s = 2 << 28.
  // db = 1 * (0.5 + 2) * 0.25 = 0.625. kIq2xxsGrid[1] = 0x080808080808082b = (43, 8, 8, ...),
  // [0] = all 8. Code 3 -> signs 3 (values 0, 1 negative); code 1 -> 129 (values 0, 7).
  BlockIQ2_XXS b{};
  b.d = kHalfOne;
  const uint32_t a0 = 1, a1 = 3u | 1u << 7 | 2u << 28;
  std::memcpy(b.qs, &a0, 4);
  std::memcpy(reinterpret_cast<uint8_t*>(b.qs) + 4, &a1, 4);
  const auto y = decode(b, dequant_iq2_xxs);
  expect_values(y, 0, {-26.875f, -5, 5, 5, 5, 5, 5, 5});
  expect_values(y, 8, {-5, 5, 5, 5, 5, 5, 5, -5});
  expect_values(y, 16, {5, 5});
  expect_values(y, 32, {1, 1, 1});  // other sub-blocks all zero bits: db = 0.125, grid 8
}

TEST(QuantsIq, Iq2XsKnownBlock) {
  // qs[0] = index 1 | code 1 << 9; scales[0] = 0x31: groups 0-1 s = 1 (db = 1.5 * 0.25 = 0.375),
  // groups 2-3 s = 3 (db = 3.5 * 0.25 = 0.875). kIq2xsGrid[1] = 0x080808080808082b.
  BlockIQ2_XS b{};
  b.d = kHalfOne;
  b.qs[0] = 1 | 1 << 9;
  b.scales[0] = 0x31;
  const auto y = decode(b, dequant_iq2_xs);
  expect_values(y, 0, {-16.125f, 3, 3, 3, 3, 3, 3, -3});
  expect_values(y, 8, {3, 3});
  expect_values(y, 16, {7, 7});
  expect_values(y, 32, {1, 1});
}

TEST(QuantsIq, Iq2SKnownBlock) {
  // Group 0: index qs[0] | (qh[0] & 3) << 8 = 5 | 2 << 8 = 517, kIq2sGrid[517] =
  // 0x1908081919190808 = (8, 8, 25, 25, 25, 8, 8, 25); raw signs qs[32] = 0x01 (value 0 only);
  // scales[0] = 0x02: db = 2.5 * 0.25 = 0.625 for groups 0-1.
  BlockIQ2_S b{};
  b.d = kHalfOne;
  b.qs[0] = 5;
  b.qh[0] = 2;
  b.qs[32] = 0x01;
  b.scales[0] = 0x02;
  const auto y = decode(b, dequant_iq2_s);
  expect_values(y, 0, {-5, 5, 15.625f, 15.625f, 15.625f, 5, 5, 15.625f});
  expect_values(y, 8, {5, 5});
  expect_values(y, 16, {1, 1});  // groups 2-3: s = 0, db = 0.125, grid 8
}

TEST(QuantsIq, Iq3XxsKnownBlock) {
  // qs[0] = 1, qs[1] = 2: kIq3xxsGrid[1] = 0x04040414 = (20, 4, 4, 4), [2] = 0x04040424 =
  // (36, 4, 4, 4). Word at qs[64]: code 1 (signs 129: values 0, 7) | s = 3 << 28:
  // db = (0.5 + 3) * 0.5 = 1.75.
  BlockIQ3_XXS b{};
  b.d = kHalfOne;
  b.qs[0] = 1;
  b.qs[1] = 2;
  const uint32_t w = 1u | 3u << 28;
  std::memcpy(b.qs + 64, &w, 4);
  const auto y = decode(b, dequant_iq3_xxs);
  expect_values(y, 0, {-35, 7, 7, 7, 63, 7, 7, -7});
  expect_values(y, 8, {7, 7});
  expect_values(y, 32, {1, 1});  // s = 0: db = 0.25, grid 4
}

TEST(QuantsIq, Iq3SKnownBlock) {
  // d = 0.5. Values 0-3: index qs[0] | (qh[0] bit 0) << 8 = 3 | 256 = 259, kIq3sGrid[259] =
  // 0x05090903 = (3, 9, 9, 5); values 4-7: qs[1] = 7, kIq3sGrid[7] = 0x01010305 = (5, 3, 1, 1).
  // signs[0] = 0x10 (value 4). scales[0] = 0x02: db = 0.5 * (1 + 2 * 2) = 2.5.
  BlockIQ3_S b{};
  b.d = kHalfHalf;
  b.qs[0] = 3;
  b.qh[0] = 1;
  b.qs[1] = 7;
  b.signs[0] = 0x10;
  b.scales[0] = 0x02;
  const auto y = decode(b, dequant_iq3_s);
  expect_values(y, 0, {7.5f, 22.5f, 22.5f, 12.5f, -12.5f, 7.5f, 2.5f, 2.5f});
  expect_values(y, 8, {2.5f, 2.5f});
  expect_values(y, 32, {0.5f, 0.5f});  // sub-block 1: s = 0, db = 0.5, grid 1
}

TEST(QuantsIq, Iq1SKnownBlock) {
  // qh[0] = index bits (1 << 0) | s = 2 << 12 | delta sign 0x8000: dl = 1 * (2 * 2 + 1) = 5,
  // delta = -0.125. Group 0: index 5 | 1 << 8 = 261, kIq1sGrid[261] = 0xff00ff0101000001 =
  // (1, 0, 0, 1, 1, -1, 0, -1). Group 1: index 0 = all -1.
  BlockIQ1_S b{};
  b.d = kHalfOne;
  b.qs[0] = 5;
  b.qh[0] = 1 | 2 << 12 | 0x8000;
  const auto y = decode(b, dequant_iq1_s);
  expect_values(y, 0, {4.375f, -0.625f, -0.625f, 4.375f, 4.375f, -5.625f, -0.625f, -5.625f});
  expect_values(y, 8, {-5.625f, -5.625f});
  expect_values(y, 32, {-0.875f});  // sub-block 1: dl = 1, delta +0.125, grid -1
}

TEST(QuantsIq, Iq1MKnownBlock) {
  // Super-scale f16 0x3800 (0.5) in the top nibbles of the u16 words: nibbles (0, 0, 8, 3).
  // Word 0 bits 0-2 = 1, bits 3-5 = 2: groups 0-1 dl = 0.5 * 3 = 1.5, groups 2-3 dl = 0.5 * 5 = 2.5.
  // Group 0: qs[0] = 7, qh[0] low nibble 9 = index bits 1 and delta sign: kIq1sGrid[263] =
  // 0xff0000ffffffff00 = (0, -1, -1, -1, -1, 0, 0, -1), delta -0.125. Group 1: qs[1] = 1,
  // kIq1sGrid[1] = 0xffffffffffffff01 = (1, -1, ...), delta +0.125. Group 2: index 0, delta +0.125.
  BlockIQ1_M b{};
  b.qs[0] = 7;
  b.qs[1] = 1;
  b.qh[0] = 0x09;
  const uint16_t words[4] = {1 | 2 << 3, 0, 0x8000, 0x3000};
  std::memcpy(b.scales, words, 8);
  ASSERT_EQ(iq1_m_super_scale(b.scales), kHalfHalf);
  const auto y = decode(b, dequant_iq1_m);
  expect_values(y, 0, {-0.1875f, -1.6875f, -1.6875f, -1.6875f, -1.6875f, -0.1875f, -0.1875f, -1.6875f});
  expect_values(y, 8, {1.6875f, -1.3125f, -1.3125f});
  expect_values(y, 16, {-2.1875f, -2.1875f});
  expect_values(y, 32, {-0.4375f});  // sub-block 1: word 0 bits 6-8 = 0, dl = 0.5, grid -1, +0.125
}

struct IqType {
  const char* name;
  DType dtype;
  void (*quantize)(const float*, uint8_t*, int64_t);
  DequantizeFn dequantize;
  double rms_bound;  // round-trip RMS error bound on N(0, 1) rows (measured ~10% below)
};

// Measured on 16 rows of 4096 N(0, 1) values (ours / llama.cpp's quantize_iq* with a uniform
// imatrix): IQ3_XXS 0.190 / 0.182, IQ3_S 0.141 / 0.137, IQ2_XXS 0.339 / 0.343, IQ2_XS 0.305 /
// 0.299, IQ2_S 0.261 / 0.248, IQ1_S 0.450 / 0.486, IQ1_M 0.425 / 0.451.
const IqType kTypes[] = {
    {"IQ3_XXS", DType::IQ3_XXS, quantize_row_iq3_xxs, dequant_iq3_xxs, 0.21},
    {"IQ3_S", DType::IQ3_S, quantize_row_iq3_s, dequant_iq3_s, 0.16},
    {"IQ2_XXS", DType::IQ2_XXS, quantize_row_iq2_xxs, dequant_iq2_xxs, 0.37},
    {"IQ2_XS", DType::IQ2_XS, quantize_row_iq2_xs, dequant_iq2_xs, 0.34},
    {"IQ2_S", DType::IQ2_S, quantize_row_iq2_s, dequant_iq2_s, 0.29},
    {"IQ1_S", DType::IQ1_S, quantize_row_iq1_s, dequant_iq1_s, 0.50},
    {"IQ1_M", DType::IQ1_M, quantize_row_iq1_m, dequant_iq1_m, 0.47},
};

std::vector<uint8_t> quantized(const IqType& t, const std::vector<float>& x) {
  std::vector<uint8_t> blocks(x.size() / kSuperBlock * dtype_block_bytes(t.dtype));
  t.quantize(x.data(), blocks.data(), static_cast<int64_t>(x.size()));
  return blocks;
}

TEST(QuantsIq, RoundTripGaussianRows) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t n = 8 * kSuperBlock;
  for (const IqType& t : kTypes) {
    SCOPED_TRACE(t.name);
    std::vector<float> x(n), y(n);
    for (float& v : x) v = normal(rng);
    const auto blocks = quantized(t, x);
    t.dequantize(blocks.data(), y.data(), n);
    double err = 0, energy = 0;
    for (int64_t i = 0; i < n; ++i) {
      err += (x[i] - y[i]) * (x[i] - y[i]);
      energy += x[i] * x[i];
    }
    EXPECT_LT(std::sqrt(err / energy), t.rms_bound);
  }
}

TEST(QuantsIq, QuantizerScaleInvariantAndEdgeRows) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(kSuperBlock), big(kSuperBlock), y(kSuperBlock);
  for (float& v : x) v = normal(rng);
  for (const IqType& t : kTypes) {
    SCOPED_TRACE(t.name);
    // Scaling the row by a power of two scales the decoded values the same way (f16 range).
    for (int i = 0; i < kSuperBlock; ++i) big[i] = 1024.0f * x[i];
    std::vector<float> y_big(kSuperBlock);
    t.dequantize(quantized(t, x).data(), y.data(), kSuperBlock);
    t.dequantize(quantized(t, big).data(), y_big.data(), kSuperBlock);
    for (int i = 0; i < kSuperBlock; ++i) EXPECT_FLOAT_EQ(y_big[i], 1024.0f * y[i]) << i;
    // All zero decodes to zero; values beyond the f16 range saturate the scale, stay finite.
    const std::vector<float> zeros(kSuperBlock, 0.0f), huge(kSuperBlock, 3e38f);
    t.dequantize(quantized(t, zeros).data(), y.data(), kSuperBlock);
    for (float v : y) EXPECT_EQ(v, 0.0f);
    t.dequantize(quantized(t, huge).data(), y.data(), kSuperBlock);
    for (float v : y) EXPECT_TRUE(std::isfinite(v));
    // Non-finite input and partial blocks are refused.
    std::vector<float> bad = x;
    bad[7] = NAN;
    EXPECT_THROW(quantized(t, bad), Error);
    bad[7] = INFINITY;
    EXPECT_THROW(quantized(t, bad), Error);
    std::vector<uint8_t> out(dtype_block_bytes(t.dtype));
    EXPECT_THROW(t.quantize(x.data(), out.data(), 128), Error);
  }
}

TEST(QuantsIq, ReachableThroughDequantizeRow) {
  std::mt19937 rng(11);
  for (const IqType& t : kTypes) {
    SCOPED_TRACE(t.name);
    ASSERT_TRUE(can_dequantize(t.dtype));
    EXPECT_EQ(dequantizer(t.dtype), t.dequantize);
    EXPECT_EQ(dtype_block_values(t.dtype), kSuperBlock);
    // Random blocks with a small f16 scale (IQ1_M: in the scales' top nibbles) decode the same way.
    std::vector<uint8_t> blocks(2 * dtype_block_bytes(t.dtype));
    for (uint8_t& v : blocks) v = static_cast<uint8_t>(rng());
    for (size_t b = 0; b < 2; ++b) {
      uint8_t* p = blocks.data() + b * dtype_block_bytes(t.dtype);
      if (t.dtype == DType::IQ1_M) {
        for (int k = 0; k < 4; ++k) {  // high byte of scale word k (bytes 48-55) gets f16 nibble k
          uint8_t& high = p[49 + 2 * k];
          high = static_cast<uint8_t>((high & 15) | ((0x2e66 >> (4 * k)) & 15) << 4);
        }
      } else {
        p[0] = 0x66;
        p[1] = 0x2e;  // f16 0.1
      }
    }
    std::vector<float> via_row(2 * kSuperBlock), direct(2 * kSuperBlock);
    dequantize_row(t.dtype, blocks.data(), via_row.data(), 2 * kSuperBlock);
    t.dequantize(blocks.data(), direct.data(), 2 * kSuperBlock);
    EXPECT_EQ(via_row, direct);
    for (float v : via_row) EXPECT_TRUE(std::isfinite(v) && std::abs(v) < 0.1f * 15 * 62 + 1);
  }
}

}  // namespace
}  // namespace mla
