// The attention core against its double-precision reference for MHA, GQA, MQA and the MLA-absorbed
// layout (V a prefix view of K), in one call and streamed in blocks.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/reference.h"

namespace mla {
namespace {

struct Case {
  const char* name;
  AttnShape shape;
  bool v_is_k_prefix;  // MLA absorbed: V = the first d_v values of K
};

// Both dispatch levels (explicit AVX-512 micro-kernels where the CPU has them, and the portable
// loops); head groups of 1..7 around the 4-head micro-kernel, widths around the 16-float vector
// and the 64-float value block.
class AttentionTest : public ::testing::TestWithParam<KernelPath> {
 protected:
  void SetUp() override { set_kernel_path(GetParam()); }
  void TearDown() override { set_kernel_path(KernelPath::Auto); }
};

TEST_P(AttentionTest, MatchesReferenceForEveryVariant) {
  std::mt19937 rng(std::random_device{}());
  std::normal_distribution<float> d(0.0f, 1.0f);
  ThreadPool pool(3);
  const Case cases[] = {{"mha", {8, 8, 16, 16, 0.25f}, false},
                        {"gqa", {8, 2, 16, 12, 0.25f}, false},
                        {"gqa-odd", {14, 2, 21, 67, 0.2f}, false},
                        {"mqa", {8, 1, 16, 16, 0.25f}, false},
                        {"mqa-5", {5, 1, 33, 80, 0.2f}, false},
                        {"mla-absorbed", {4, 1, 40, 32, 0.15f}, true},
                        {"mla-absorbed-wide", {6, 1, 144, 128, 0.1f}, true}};
  // A short prefill after a cached prefix, and single-token decode over a long cache (whose keys
  // are split across threads and merged).
  for (auto [T, p0] : {std::pair<int64_t, int64_t>{5, 37}, {1, 600}})
  for (const Case& c : cases) {
    const AttnShape& s = c.shape;
    const int64_t L = p0 + T;
    const int64_t row = c.v_is_k_prefix ? s.d_k : s.n_head_kv * (s.d_k + s.d_v);
    const KvLayout kv = c.v_is_k_prefix
                            ? KvLayout{nullptr, row, 0, 0, 0, 0}
                            : KvLayout{nullptr, row, 0, s.d_k, s.n_head_kv * s.d_k, s.d_v};
    std::vector<float> rows(L * row), q(T * s.n_head * s.d_k), out(T * s.n_head * s.d_v), want(out.size());
    for (float& v : rows) v = d(rng);
    for (float& v : q) v = d(rng);
    KvLayout layout = kv;
    layout.base = rows.data();
    ref::attend(s, q.data(), T, p0, layout, want.data());

    AttnState st;
    attend(pool, s, q.data(), T, p0, layout, st, out.data());
    for (size_t i = 0; i < out.size(); ++i) ASSERT_NEAR(out[i], want[i], 1e-5 * (1 + std::fabs(want[i]))) << c.name;

    // The same keys streamed in uneven blocks give the same result.
    st.reset(T, s);
    for (int64_t j0 = 0; j0 < L; j0 += 11) {
      KvLayout block = layout;
      block.base = rows.data() + j0 * row;
      attend_block(pool, s, q.data(), T, p0, block, j0, std::min(L, j0 + 11), st);
    }
    st.finish(T, s, out.data());
    for (size_t i = 0; i < out.size(); ++i) ASSERT_NEAR(out[i], want[i], 1e-5 * (1 + std::fabs(want[i]))) << c.name << " blocked";
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, AttentionTest, ::testing::Values(KernelPath::Auto, KernelPath::Portable),
                         [](const auto& info) { return info.param == KernelPath::Auto ? "auto" : "portable"; });

}  // namespace
}  // namespace mla
