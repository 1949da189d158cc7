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
#include "kv/kv_cache.h"

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
        ref::attend(s, q.data(), T, p0, flat.layout(0, L, ko, kh, vo, vh), want.data());
        AttnState st;
        attend(pool3, s, q.data(), T, p0, flat.layout(0, L, ko, kh, vo, vh), st, contiguous.data());
        expect_near(contiguous, want, 1e-5, what + " contiguous");

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
            expect_near(out, want, 1e-5, w + " vs reference");
            expect_near(out, contiguous, 1e-6, w + " vs contiguous");
          }
        }
      }
}

INSTANTIATE_TEST_SUITE_P(Paths, AttentionTest, ::testing::Values(KernelPath::Auto, KernelPath::Portable),
                         [](const auto& info) { return info.param == KernelPath::Auto ? "auto" : "portable"; });

}  // namespace
}  // namespace mla
