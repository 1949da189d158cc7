// The attention core against its double-precision reference for MHA, GQA, MQA and the MLA-absorbed
// layout (V a prefix view of K): in one call, streamed in blocks, and over a paged cache in every
// cache dtype (shuffled block tables, block sizes 1, 16, 64 with a partial last block, 1 and 3
// threads), each paged result also equal to the same rows read contiguously.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/reference.h"
#include "kernels/simd_attn_dot.h"
#include "kernels/simd_panel.h"
#include "kv/kv_cache.h"
#include "tensor/dtype.h"

namespace mla {
namespace {

struct Case {
  const char* name;
  AttnShape shape;
  bool v_is_k_prefix;  // MLA absorbed: V = the first d_v values of K
};

// Head groups of 1..7 around the 4-head micro-kernel, 16 and more for the heads-in-lanes kernels, widths around the 16-float vector, the
// 64-float value block and the q8_0 / fp8 blocks (32 / 128 values; offsets not on block bounds).
const Case kCases[] = {{"mha", {8, 8, 16, 16, 0.25f}, false},
                       {"gqa", {8, 2, 16, 12, 0.25f}, false},
                       {"gqa-odd", {14, 2, 21, 67, 0.2f}, false},
                       {"mqa", {8, 1, 16, 16, 0.25f}, false},
                       {"mqa-5", {5, 1, 33, 80, 0.2f}, false},
                       {"mla-absorbed", {4, 1, 40, 32, 0.15f}, true},
                       {"mla-absorbed-wide", {6, 1, 144, 128, 0.1f}, true},
                       // 16 and more heads per key row: heads in vector lanes, one full group of 16
                       // (odd d_k: the bf16 pair loop's last single dim), and 2 groups + 8 padded lanes.
                       {"mla-absorbed-16", {16, 1, 73, 64, 0.1f}, true},
                       {"mla-absorbed-40", {40, 1, 48, 32, 0.15f}, true},
                       {"gqa-16", {32, 2, 20, 24, 0.2f}, false},
                       // MHA / GQA heads in lanes over whole rows: two full lane groups of 4 heads per kv head.
                       {"gqa-32", {32, 8, 32, 48, 0.2f}, false},
                       // f32 rows of 20 KiB: 64-row chunks would pass 1 MiB, so kv heads go one at a
                       // time over all rows (bf16: by 64-row chunks; fp8 / q8_0: decoded 16 rows at a time).
                       {"mha-wide-rows", {20, 20, 128, 128, 0.09f}, false}};

// A short prefill after a cached prefix, and single-token decode over a long cache (whose keys
// are split across threads and merged).
const std::pair<int64_t, int64_t> kCalls[] = {{5, 37}, {1, 600}};

int64_t row_width(const Case& c) {
  return c.v_is_k_prefix ? c.shape.d_k : c.shape.n_head_kv * (c.shape.d_k + c.shape.d_v);
}
// k_offset, k_head_stride, v_offset, v_head_stride: rows [K (heads x d_k) ; V (heads x d_v)].
std::array<int64_t, 4> offsets(const Case& c) {
  if (c.v_is_k_prefix) return {0, 0, 0, 0};
  return {0, c.shape.d_k, c.shape.n_head_kv * c.shape.d_k, c.shape.d_v};
}

void expect_near(const std::vector<float>& out, const std::vector<float>& want, double tol, const std::string& what) {
  for (size_t i = 0; i < out.size(); ++i)
    ASSERT_NEAR(out[i], want[i], tol * (1 + std::fabs(want[i]))) << what << " at " << i;
}

// Both dispatch levels: explicit AVX-512 micro-kernels where the CPU has them, and the portable loops.
class AttentionTest : public ::testing::TestWithParam<KernelPath> {
 protected:
  void SetUp() override { set_kernel_path(GetParam()); }
  void TearDown() override { set_kernel_path(KernelPath::Auto); }
};

TEST_P(AttentionTest, MatchesReferenceForEveryVariant) {
  std::mt19937 rng(std::random_device{}());
  std::normal_distribution<float> d(0.0f, 1.0f);
  ThreadPool pool(3);
  for (auto [T, p0] : kCalls)
    for (const Case& c : kCases) {
      const AttnShape& s = c.shape;
      const int64_t L = p0 + T, row = row_width(c);
      const auto [ko, kh, vo, vh] = offsets(c);
      std::vector<float> rows(L * row), q(T * s.n_head * s.d_k), out(T * s.n_head * s.d_v), want(out.size());
      for (float& v : rows) v = d(rng);
      for (float& v : q) v = d(rng);
      const KvLayout layout = f32_rows(rows.data(), row, ko, kh, vo, vh);
      ref::attend(s, q.data(), T, p0, layout, want.data());

      AttnState st;
      attend(pool, s, q.data(), T, p0, layout, st, out.data());
      expect_near(out, want, 1e-5, c.name);

      // The same keys streamed in uneven blocks give the same result.
      st.reset(T, s);
      for (int64_t j0 = 0; j0 < L; j0 += 11) {
        const KvLayout block = f32_rows(rows.data() + j0 * row, row, ko, kh, vo, vh);
        attend_block(pool, s, q.data(), T, p0, block, j0, std::min(L, j0 + 11), st);
      }
      st.finish(T, s, out.data());
      expect_near(out, want, 1e-5, std::string(c.name) + " blocked");
    }
}

// Every cache dtype: the kernel over a paged cache (shuffled block ids, unused blocks between them)
// equals the reference over the same stored rows, and equals the kernel over a contiguous cache.
TEST_P(AttentionTest, PagedTypedCacheMatchesReferenceAndContiguous) {
  std::mt19937 rng(std::random_device{}());
  std::normal_distribution<float> d(0.0f, 1.0f);
  ThreadPool pool1(1), pool3(3);
  for (kv::CacheDtype dtype : kv::all_cache_dtypes())
    for (auto [T, p0] : kCalls)
      for (const Case& c : kCases) {
        const AttnShape& s = c.shape;
        const int64_t L = p0 + T, row = row_width(c);
        const auto [ko, kh, vo, vh] = offsets(c);
        const std::string what = std::string(c.name) + " " + kv::cache_dtype_name(dtype) + " T=" + std::to_string(T);
        std::vector<float> q(T * s.n_head * s.d_k), out(T * s.n_head * s.d_v), want(out.size()),
            contiguous(out.size());
        for (float& v : q) v = d(rng);
        KvCache flat(1, row, L, dtype);
        std::vector<float> rows(L * row);  // the f32 values both caches store
        for (float& v : rows) v = d(rng);
        for (int64_t j = 0; j < L; ++j) flat.write_row(0, j, rows.data() + j * row);
        // bf16, fp8 and q8_0 rows under AVX512_BF16 with 16+ heads per key row run on vdpbf16ps, which
        // rounds q times the scale and the softmax weights to bf16 (kernels/simd_attn_dot.h); fp8 /
        // q8_0 rows are decoded to f32 and rounded to bf16 as well. The reference then takes q and
        // the stored rows so rounded; the weights' rounding (relative 2^-9 each, the sum of the
        // rounded weights as denominator) is left: it moves an output by at most 2^-9 max_j |v_j - out|.
        // Observed up to 2.3e-3 (1 + |want|) in 35 runs (at 37 keys; ~1e-4 at 600): tolerance 1e-2.
        // The kernels themselves are checked on exact sums below (AttentionBf16Dot).
        const bool dot = attention_uses_bf16_dot(s, flat.layout(0, L, ko, kh, vo, vh));
        const double tol = dot ? 1e-2 : 1e-5, tol_paged = dot ? 1e-2 : 1e-6;
        std::vector<float> q_ref = q;
        if (dot)
          for (float& v : q_ref) v = bf16_to_f32(f32_to_bf16(v * s.scale)) / s.scale;
        if (dot && dtype != kv::CacheDtype::BF16) {
          std::vector<float> stored(L * row);
          for (int64_t j = 0; j < L; ++j) flat.read_row(0, j, stored.data() + j * row);
          for (float& v : stored) v = bf16_to_f32(f32_to_bf16(v));
          ref::attend(s, q_ref.data(), T, p0, f32_rows(stored.data(), row, ko, kh, vo, vh), want.data());
        } else {
          ref::attend(s, q_ref.data(), T, p0, flat.layout(0, L, ko, kh, vo, vh), want.data());
        }
        AttnState st;
        attend(pool3, s, q.data(), T, p0, flat.layout(0, L, ko, kh, vo, vh), st, contiguous.data());
        expect_near(contiguous, want, tol, what + " contiguous");

        for (int64_t B : {1, 16, 64}) {
          const int64_t used = (L + B - 1) / B, n_blocks = 2 * used + 1;
          auto arena = std::make_shared<KvBlockArena>(1, row, n_blocks, B, dtype);
          KvCache paged(arena, L);
          std::vector<int32_t> ids(n_blocks);
          std::iota(ids.begin(), ids.end(), 0);
          std::shuffle(ids.begin(), ids.end(), rng);
          paged.block_table().assign(ids.begin(), ids.begin() + used);
          for (int64_t j = 0; j < L; ++j) paged.write_row(0, j, rows.data() + j * row);
          for (ThreadPool* pool : {&pool1, &pool3}) {
            attend(*pool, s, q.data(), T, p0, paged.layout(0, L, ko, kh, vo, vh), st, out.data());
            const std::string w = what + " B=" + std::to_string(B) + " threads=" + std::to_string(pool->size());
            expect_near(out, want, tol, w + " vs reference");
            // Splits across threads start the online softmax elsewhere: on vdpbf16ps its weights
            // then round differently.
            expect_near(out, contiguous, tol_paged, w + " vs contiguous");
          }
        }
      }
}

// The vdpbf16ps kernels (kernels/simd_attn_dot.h) against scalar sums of the same bf16 values, on
// fresh random inputs: odd d_k (the last dim alone), key tiles of 16 down to 1, odd key counts (a
// missing last row of a pair), d_v off the 16- and 32-dim blocks, one and several lane groups.
// The products are exact, so only the f32 summation differs: 1e-5 of the sum of |terms|.
TEST(AttentionBf16Dot, KernelsMatchScalarSumsOfTheSameBf16Values) {
  if (!simd::avx512_bf16_cpu()) GTEST_SKIP() << "no AVX512_BF16";
  std::mt19937 rng(std::random_device{}());
  std::normal_distribution<float> d(0.0f, 1.0f);
  auto bf = [&] { return f32_to_bf16(d(rng)); };
  auto val = [](uint16_t h) { return static_cast<double>(bf16_to_f32(h)); };
  auto aligned = [](std::vector<uint32_t>& v, size_t n) {
    v.assign(n + 16, 0);
    return reinterpret_cast<uint32_t*>((reinterpret_cast<uintptr_t>(v.data()) + 63) & ~uintptr_t{63});
  };
  std::vector<uint32_t> qbuf, sbuf, pbuf, tbuf, abuf;
  for (int64_t d_k : {1, 7, 73, 576})
    for (int64_t n : {1, 5, 16, 37, 64}) {
      const int64_t stride = d_k + 3, pairs = (d_k + 1) / 2;
      std::vector<uint16_t> k(n * stride);
      for (uint16_t& x : k) x = bf();
      uint32_t* qp = aligned(qbuf, pairs * 16);
      for (int64_t i = 0; i < pairs * 16; ++i) qp[i] = bf() | (2 * (i / 16) + 1 < d_k ? uint32_t{bf()} << 16 : 0u);
      float* sc = reinterpret_cast<float*>(aligned(sbuf, n * 16));
      simd::attn_scores_lanes_dot(qp, d_k, k.data(), stride, n, sc, nullptr);
      for (int64_t j = 0; j < n; ++j)
        for (int h = 0; h < 16; ++h) {
          double want = 0, mag = 1e-30;
          for (int64_t dd = 0; dd < d_k; ++dd) {
            const uint32_t pair = qp[(dd / 2) * 16 + h];
            const double t = val(static_cast<uint16_t>(dd % 2 ? pair >> 16 : pair & 0xffff)) * val(k[j * stride + dd]);
            want += t, mag += std::fabs(t);
          }
          ASSERT_NEAR(sc[j * 16 + h], want, 1e-5 * mag) << "scores d_k=" << d_k << " n=" << n << " key " << j << " head " << h;
        }
    }
  for (int64_t n : {1, 2, 7, 64}) {
    std::vector<float> p(n * 16 + 16);
    for (float& x : p) x = std::exp(d(rng));
    float* pa = reinterpret_cast<float*>(aligned(sbuf, n * 16 + 16));
    std::copy(p.begin(), p.end(), pa);
    uint32_t* pp = aligned(pbuf, (n + 1) / 2 * 16);
    simd::attn_weight_pairs(pa, n, pp);
    for (int64_t j = 0; j < n; ++j)
      for (int h = 0; h < 16; ++h) {
        const uint32_t pair = pp[(j / 2) * 16 + h];
        ASSERT_EQ(j % 2 ? pair >> 16 : pair & 0xffff, f32_to_bf16(pa[j * 16 + h])) << "weights n=" << n << " row " << j;
        if (j == n - 1 && n % 2) {
          ASSERT_EQ(pair >> 16, 0u) << "the missing row of the last pair";
        }
      }
  }
  for (int64_t groups : {1, 3})
    for (int64_t d_v : {1, 24, 40, 64, 67, 512})
      for (int64_t n : {1, 2, 7, 64}) {
        const int64_t pairs = (n + 1) / 2, offset = 5;
        std::vector<std::vector<uint16_t>> stored(n, std::vector<uint16_t>(offset + d_v));
        std::vector<const uint8_t*> rows(n);
        for (int64_t j = 0; j < n; ++j) {
          for (uint16_t& x : stored[j]) x = bf();
          rows[j] = reinterpret_cast<const uint8_t*>(stored[j].data());
        }
        uint32_t* pp = aligned(pbuf, groups * pairs * 16);
        for (int64_t i = 0; i < groups * pairs * 16; ++i) pp[i] = bf() | (2 * ((i / 16) % pairs) + 1 < n ? uint32_t{bf()} << 16 : 0u);
        float* acc = reinterpret_cast<float*>(aligned(abuf, groups * d_v * 16));
        for (int64_t i = 0; i < groups * d_v * 16; ++i) acc[i] = d(rng);
        const std::vector<float> before(acc, acc + groups * d_v * 16);
        simd::attn_accumulate_lanes_dot(pp, groups, rows.data(), offset, n, d_v, aligned(tbuf, pairs * 32), acc);
        for (int64_t g = 0; g < groups; ++g)
          for (int64_t dd = 0; dd < d_v; ++dd)
            for (int h = 0; h < 16; ++h) {
              const int64_t at = (g * d_v + dd) * 16 + h;
              double want = before[at], mag = std::fabs(want) + 1e-30;
              for (int64_t j = 0; j < n; ++j) {
                const uint32_t pair = pp[(g * pairs + j / 2) * 16 + h];
                const double t = val(static_cast<uint16_t>(j % 2 ? pair >> 16 : pair & 0xffff)) * val(stored[j][offset + dd]);
                want += t, mag += std::fabs(t);
              }
              ASSERT_NEAR(acc[at], want, 1e-5 * mag) << "P·V groups=" << groups << " d_v=" << d_v << " n=" << n << " dim " << dd;
            }
      }
}

INSTANTIATE_TEST_SUITE_P(Paths, AttentionTest, ::testing::Values(KernelPath::Auto, KernelPath::Portable),
                         [](const auto& info) { return info.param == KernelPath::Auto ? "auto" : "portable"; });

}  // namespace
}  // namespace mla
