// The identities the architecture rests on: absorbed MLA == naive MLA == multi-head attention over
// keys and values expanded from the latent, computed here directly in double precision.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "core/error.h"
#include "kernels/matmul.h"
#include "model/mla_attention.h"

namespace mla {
namespace {

struct Fixture {
  MlaShape s{5, 24, 8, 20, 48, 0.17f};
  std::vector<float> kv_b;  // [H*(nope+v) x R], f32
  Matrix kv_b_view;
  KvCache cache{2, 48 + 8, 300};

  explicit Fixture(std::mt19937& rng) {
    std::normal_distribution<float> d(0.0f, 0.3f);
    kv_b.resize(s.n_head * (s.qk_nope_head_dim + s.v_head_dim) * s.kv_lora_rank);
    for (float& v : kv_b) v = d(rng);
    kv_b_view = Matrix{DType::F32, s.n_head * (s.qk_nope_head_dim + s.v_head_dim), s.kv_lora_rank,
                       reinterpret_cast<const uint8_t*>(kv_b.data()), nullptr};
    std::vector<float> row(cache.row_width());
    for (int64_t l = 0; l < 2; ++l)
      for (int64_t t = 0; t < cache.max_tokens(); ++t) {
        for (float& v : row) v = d(rng);
        cache.write_row(l, t, row.data());
      }
  }

  // Plain MHA with K/V expanded from the latent: the published equations, double precision.
  std::vector<double> expected(const std::vector<float>& q, int64_t layer, int64_t T, int64_t p0) const {
    const int64_t H = s.n_head, nope = s.qk_nope_head_dim, rope = s.qk_rope_head_dim, dv = s.v_head_dim,
                  R = s.kv_lora_rank, kvd = nope + dv;
    std::vector<double> out(T * H * dv, 0.0);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < H; ++h) {
        const int64_t L = p0 + t + 1;
        std::vector<double> score(L);
        std::vector<std::vector<double>> v(L, std::vector<double>(dv));
        std::vector<float> row(cache.row_width());
        for (int64_t j = 0; j < L; ++j) {
          cache.read_row(layer, j, row.data());
          double sc = 0;
          for (int64_t i = 0; i < nope; ++i) {
            double k = 0;
            for (int64_t c = 0; c < R; ++c) k += kv_b[(h * kvd + i) * R + c] * row[c];
            sc += q[(t * H + h) * (nope + rope) + i] * k;
          }
          for (int64_t i = 0; i < rope; ++i) sc += q[(t * H + h) * (nope + rope) + nope + i] * row[R + i];
          score[j] = sc * s.softmax_scale;
          for (int64_t d = 0; d < dv; ++d) {
            double acc = 0;
            for (int64_t c = 0; c < R; ++c) acc += kv_b[(h * kvd + nope + d) * R + c] * row[c];
            v[j][d] = acc;
          }
        }
        double m = score[0], sum = 0;
        for (double x : score) m = std::max(m, x);
        for (double& x : score) sum += (x = std::exp(x - m));
        for (int64_t j = 0; j < L; ++j)
          for (int64_t d = 0; d < dv; ++d) out[(t * H + h) * dv + d] += score[j] / sum * v[j][d];
      }
    return out;
  }
};

TEST(MlaAttention, NaiveAndAbsorbedEqualExpandedMha) {
  // The f32 products: prompt chunks would otherwise take the bf16 flash prefill (tested below).
  set_kernel_path(KernelPath::NoVnni);
  std::mt19937 rng(std::random_device{}());
  Fixture f(rng);
  std::normal_distribution<float> d(0.0f, 1.0f);
  ThreadPool pool(2);
  MlaAttention attn;
  // Prefill of several tokens after a cached prefix, a long prefill spanning naive's key blocks,
  // and single-token decode.
  for (auto [T, p0] : {std::pair<int64_t, int64_t>{7, 5}, {1, 0}, {1, 290}, {40, 260}}) {
    std::vector<float> q(T * f.s.n_head * (f.s.qk_nope_head_dim + f.s.qk_rope_head_dim));
    for (float& v : q) v = d(rng);
    const auto want = f.expected(q, 1, T, p0);
    for (AttnMode mode : {AttnMode::Naive, AttnMode::Absorbed, AttnMode::Auto}) {
      std::vector<float> out(T * f.s.n_head * f.s.v_head_dim);
      attn.run(mode, pool, f.s, f.kv_b_view, f.cache, 1, q.data(), T, p0, out.data());
      for (size_t i = 0; i < out.size(); ++i)
        ASSERT_NEAR(out[i], want[i], 1e-4 * (1 + std::fabs(want[i])))
            << attn_mode_name(mode) << " T=" << T << " p0=" << p0 << " i=" << i;
    }
  }
  set_kernel_path(KernelPath::Auto);
}

// Naive prefill on the bf16 dot products (kernels/flash_prefill.h): q, the expanded keys and values
// and the softmax weights enter the products as bf16 (relative error 2^-9 each), so each output is
// within a few parts per thousand of its scale; measured here: max |err| ~ 5e-3 at outputs of
// magnitude ~0.3-1 (bound 1e-2 (1 + |want|)). Chunks after a prefix, over two key blocks, and a
// chunk whose first queries see none of the second block.
TEST(MlaAttention, FlashPrefillMatchesExpandedMhaWithinBf16Rounding) {
  if (!kernels_use_bf16_dot()) GTEST_SKIP() << "no AVX512_BF16 (or MLA_KERNELS forces another path)";
  std::mt19937 rng(std::random_device{}());
  Fixture f(rng);
  std::normal_distribution<float> d(0.0f, 1.0f);
  ThreadPool pool(2);
  MlaAttention attn;
  double worst = 0;
  for (auto [T, p0] : {std::pair<int64_t, int64_t>{40, 260}, {290, 0}, {17, 250}}) {
    std::vector<float> q(T * f.s.n_head * (f.s.qk_nope_head_dim + f.s.qk_rope_head_dim));
    for (float& v : q) v = d(rng);
    const auto want = f.expected(q, 1, T, p0);
    std::vector<float> out(T * f.s.n_head * f.s.v_head_dim);
    attn.run(AttnMode::Naive, pool, f.s, f.kv_b_view, f.cache, 1, q.data(), T, p0, out.data());
    for (size_t i = 0; i < out.size(); ++i) {
      worst = std::max(worst, std::fabs(out[i] - want[i]));
      ASSERT_NEAR(out[i], want[i], 1e-2 * (1 + std::fabs(want[i]))) << "T=" << T << " p0=" << p0 << " i=" << i;
    }
  }
  std::printf("flash prefill: max |err| %.2e\n", worst);
}

TEST(MlaAttention, AutoPrefersNaiveForPrefillAndAbsorbedForDecode) {
  const MlaShape v2_lite{16, 128, 64, 128, 512, 0.07f};
  EXPECT_EQ(resolve_attn_mode(AttnMode::Auto, v2_lite, 1, 4096), AttnMode::Absorbed);
  EXPECT_EQ(resolve_attn_mode(AttnMode::Auto, v2_lite, 512, 0), AttnMode::Naive);
  EXPECT_EQ(resolve_attn_mode(AttnMode::Naive, v2_lite, 1, 4096), AttnMode::Naive);
  EXPECT_THROW(parse_attn_mode("fast"), Error);
}

TEST(KvCache, HoldsExactlyLatentPlusRopePerTokenPerLayer) {
  KvCache c(61, 512 + 64, 16);
  EXPECT_EQ(c.row_width(), 576);
  EXPECT_EQ(c.bytes_per_token(), 61u * 576u * 4u);
  c.set_n_tokens(3);
  EXPECT_EQ(c.bytes_used(), 3u * 61u * 576u * 4u);
  EXPECT_THROW(c.set_n_tokens(17), Error);
}

}  // namespace
}  // namespace mla
