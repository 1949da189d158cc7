// The paged, typed KV cache: the row formats (against the scalar reference decoder and error bounds
// per dtype), byte counts equal to `mla kv` accounting, the block arena, block-table errors, and a
// model run through a shuffled block table giving the logits of a contiguous cache.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "core/error.h"
#include "kernels/cache_rows.h"
#include "kernels/matmul.h"
#include "kernels/reference.h"
#include "kernels/simd.h"
#include "kv/kv_cache.h"
#include "model/model.h"
#include "model/random_weights.h"
#include "tensor/dtype.h"
#include "testing/tiny_models.h"

namespace mla {
namespace {

using kv::CacheDtype;

TEST(CacheRows, Fp8EncoderRoundTripsEveryCodeAndRoundsToNearest) {
  for (int c = 0; c < 256; ++c) {
    if ((c & 0x7f) == 0x7f) continue;  // NaN
    EXPECT_EQ(f32_to_fp8_e4m3(fp8_e4m3_to_f32(static_cast<uint8_t>(c))), c) << c;
  }
  EXPECT_EQ(f32_to_fp8_e4m3(1e9f), 0x7e);    // saturates at 448
  EXPECT_EQ(f32_to_fp8_e4m3(-1e9f), 0xfe);
  EXPECT_EQ(f32_to_fp8_e4m3(NAN), 0x7f);
  std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<float> exponent(-12.0f, 9.0f);
  for (int i = 0; i < 20000; ++i) {
    const float x = std::exp2(exponent(rng)) * (i % 2 ? 1 : -1);
    const float got = fp8_e4m3_to_f32(f32_to_fp8_e4m3(x));
    float best = INFINITY;
    for (int c = 0; c < 256; ++c)
      if ((c & 0x7f) != 0x7f) best = std::min(best, std::fabs(fp8_e4m3_to_f32(static_cast<uint8_t>(c)) - x));
    ASSERT_EQ(std::fabs(got - x), best) << x;  // a nearest code (ties: either is nearest)
  }
}

class CacheRowsTest : public ::testing::TestWithParam<KernelPath> {
 protected:
  void SetUp() override { set_kernel_path(GetParam()); }
  void TearDown() override { set_kernel_path(KernelPath::Auto); }
};

// Each format round-trips within its stated error, and the fast decoder (any sub-range) equals the
// scalar reference decoder element by element.
TEST_P(CacheRowsTest, RoundTripWithinFormatErrorAndDecodeEqualsReference) {
  std::mt19937 rng(std::random_device{}());
  std::normal_distribution<float> d(0.0f, 2.0f);
  for (CacheDtype dt : kv::all_cache_dtypes())
    for (int64_t n : {1, 17, 32, 100, 128, 129, 576}) {
      std::vector<float> x(n), y(n);
      for (float& v : x) v = d(rng);
      x[n / 2] *= 1e-4f;  // a tiny value inside a block of large ones
      std::vector<uint8_t> row(kv::row_bytes(n, dt));
      encode_cache_row(dt, x.data(), n, row.data());
      decode_cache_values(dt, row.data(), 0, n, y.data());
      const int64_t blk = dt == CacheDtype::Q8_0 ? 32 : dt == CacheDtype::FP8 ? 128 : 1;
      for (int64_t i = 0; i < n; ++i) {
        float amax = 0;  // of the block holding i
        for (int64_t k = i / blk * blk; k < std::min(n, (i / blk + 1) * blk); ++k) amax = std::max(amax, std::fabs(x[k]));
        const float ax = std::fabs(x[i]);
        const float bound = dt == CacheDtype::F32    ? 0.0f
                            : dt == CacheDtype::BF16 ? ax * 0x1p-8f
                            : dt == CacheDtype::F16  ? ax * 0x1p-11f + 0x1p-24f
                            // q8_0: half a step of d = amax / 127, plus d's own f16 rounding (a subnormal
                            // f16 below 2^-14: absolute error up to 2^-25, times |q| <= 127)
                            : dt == CacheDtype::Q8_0 ? amax / 127 * 0.5f * (1 + 0x1p-9f) + ax * 0x1p-10f + 127 * 0x1p-25f
                                                     : ax * 0x1p-4f + amax / 448 * 0x1p-10f;  // fp8
        ASSERT_LE(std::fabs(y[i] - x[i]), bound) << kv::cache_dtype_name(dt) << " n=" << n << " i=" << i;
        ASSERT_EQ(y[i], ref::cache_value(dt, row.data(), i)) << kv::cache_dtype_name(dt);
      }
      // Sub-ranges starting inside a block.
      for (int64_t b0 : {int64_t{0}, n / 3, n - 1}) {
        const int64_t cnt = n - b0;
        std::vector<float> part(cnt);
        decode_cache_values(dt, row.data(), b0, cnt, part.data());
        for (int64_t i = 0; i < cnt; ++i) ASSERT_EQ(part[i], y[b0 + i]) << kv::cache_dtype_name(dt);
      }
    }
}

// Every e4m3 code through the AVX-512 widening equals the table's value times the scale, bit for bit
// (NaN codes stay NaN), at a normal, a tiny and a large scale.
TEST(CacheRows, Fp8WideningMatchesTableForEveryCode) {
  if (!simd::avx512_cpu()) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::vector<uint8_t> codes(256 + 5);
  for (size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<uint8_t>(i * 7 % 256);  // odd length: a masked tail
  for (float scale : {1.0f, 3.1e-7f, 812.5f}) {
    std::vector<float> out(codes.size());
    simd::fp8_e4m3_to_f32(codes.data(), scale, out.data(), static_cast<int64_t>(codes.size()));
    for (size_t i = 0; i < codes.size(); ++i) {
      const float want = scale * fp8_e4m3_table()[codes[i]];
      if (std::isnan(want)) {
        ASSERT_TRUE(std::isnan(out[i])) << "code " << int{codes[i]};
      } else {
        ASSERT_EQ(out[i], want) << "code " << int{codes[i]} << " scale " << scale;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, CacheRowsTest, ::testing::Values(KernelPath::Auto, KernelPath::Portable),
                         [](const auto& info) { return info.param == KernelPath::Auto ? "auto" : "portable"; });

// The cache's own byte counts are what `mla kv` says, for every preset and dtype (K and V rows of
// the Llama presets are multiples of the q8_0 and fp8 blocks, so storing them as one row costs the same).
TEST(KvCache, BytesAgreeWithKvAccounting) {
  for (const std::string& name : kv::preset_names()) {
    const kv::KvShape s = kv::preset(name);
    int64_t width = 0;
    for (uint64_t w : s.cached_rows()) width += static_cast<int64_t>(w);
    for (CacheDtype dt : kv::all_cache_dtypes()) {
      KvCache c(s.n_layer, width, 4, dt);
      EXPECT_EQ(c.bytes_per_token(), kv::kv_bytes(s, dt).per_token) << name << " " << kv::cache_dtype_name(dt);
      c.set_n_tokens(3);
      EXPECT_EQ(c.bytes_used(), 3 * kv::kv_bytes(s, dt).per_token);
      EXPECT_EQ(KvBlockArena(s.n_layer, width, 2, 16, dt).bytes_per_block(), 16 * kv::kv_bytes(s, dt).per_token);
    }
  }
}

TEST(KvBlockArena, BudgetAndDisjointBlocks) {
  // V2-Lite rows in bf16: 27 layers x 1152 B x 16 tokens = 497,664 B per block.
  EXPECT_EQ(KvBlockArena::blocks_for_budget(size_t{1} << 30, 27, 576, 16, CacheDtype::BF16), 2157);
  EXPECT_EQ(KvBlockArena::blocks_for_budget(497663, 27, 576, 16, CacheDtype::BF16), 0);
  KvBlockArena a(2, 40, 5, 4, CacheDtype::Q8_0);
  EXPECT_EQ(a.row_bytes(), 68u);
  EXPECT_EQ(a.bytes_per_block(), 2u * 4 * 68);
  EXPECT_EQ(a.total_bytes(), 5u * 2 * 4 * 68);
  EXPECT_EQ(a.row(1, 3, 2) - a.row(0, 0, 0), static_cast<ptrdiff_t>((5 * 4 + 3 * 4 + 2) * 68));
  EXPECT_THROW(KvBlockArena(2, 40, 0, 4, CacheDtype::F32), Error);
  EXPECT_THROW(KvBlockArena::blocks_for_budget(1000, 2, 40, 0, CacheDtype::F32), Error);
}

TEST(KvCache, BlockTableErrorsAreClear) {
  auto arena = std::make_shared<KvBlockArena>(2, 8, 4, 2, CacheDtype::F32);
  KvCache c(arena, 6);
  const std::vector<float> row(8, 1.0f);
  EXPECT_THROW(c.write_row(0, 0, row.data()), Error);  // empty table
  c.block_table() = {3, 1};
  c.write_row(1, 3, row.data());
  EXPECT_THROW(c.write_row(0, 4, row.data()), Error);  // block 2 of the sequence not mapped
  EXPECT_THROW(c.write_row(2, 0, row.data()), Error);  // no layer 2
  EXPECT_THROW(c.layout(0, 5, 0, 0, 0, 0), Error);
  c.block_table().push_back(4);  // outside the arena's 4 blocks
  EXPECT_THROW(c.layout(0, 5, 0, 0, 0, 0), Error);
  EXPECT_THROW(c.layout(0, 7, 0, 0, 0, 0), Error);  // beyond max_tokens
  EXPECT_THROW(KvCache(nullptr, 4), Error);
  std::vector<float> out(8);
  c.read_row(1, 3, out.data());
  EXPECT_EQ(out, row);
}

// A model over a shuffled block table gives the logits of its contiguous cache (f32: equal to
// rounding of the summation order, which is the same; checked to 1e-5).
TEST(KvCache, ModelOverShuffledBlockTableEqualsContiguous) {
  ThreadPool pool(2);
  for (const ModelConfig& cfg : {testing::tiny_deepseek_v3(), testing::tiny_llama(6, 2)}) {
    auto model = build_model(cfg, std::make_unique<RandomWeights>(DType::F32, 5, pool), pool);
    const int64_t V = cfg.vocab_size, B = 4, max_tokens = 24;
    std::vector<int32_t> prompt(13);
    std::iota(prompt.begin(), prompt.end(), 3);
    for (AttnMode mode : {AttnMode::Naive, AttnMode::Absorbed}) {
      auto arena = std::make_shared<KvBlockArena>(cfg.num_hidden_layers, model->cache_row_width(), 9, B, CacheDtype::F32);
      KvCache paged(arena, max_tokens);
      paged.block_table() = {7, 2, 8, 0, 5, 3};
      KvCache flat = model->make_cache(max_tokens);
      std::vector<float> a(prompt.size() * V), b(prompt.size() * V);
      model->forward(prompt, flat, mode, true, a.data());
      model->forward(prompt, paged, mode, true, b.data());
      for (int step = 0; step < 4; ++step) {  // decode across block boundaries (13 -> 17 tokens)
        const int32_t next = 40 + step;
        model->forward({&next, 1}, flat, mode, false, a.data());
        model->forward({&next, 1}, paged, mode, false, b.data());
        for (int64_t v = 0; v < V; ++v)
          ASSERT_NEAR(b[v], a[v], 1e-5f * (1 + std::fabs(a[v]))) << cfg.architecture << " step " << step;
      }
    }
  }
}

}  // namespace
}  // namespace mla
