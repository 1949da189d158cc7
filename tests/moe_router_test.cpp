// DeepSeekMoE routing on hand-computed cases: each topk_method and the V2/V3 scaling difference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "model/moe_router.h"

namespace mla {
namespace {

ModelConfig moe_config(const char* arch, TopkMethod method, ScoringFunc scoring, int64_t groups, int64_t topk_group,
                       int64_t k, bool norm, double scale) {
  ModelConfig c;
  c.architecture = arch;
  c.n_routed_experts = 8;
  c.num_experts_per_tok = k;
  c.topk_method = method;
  c.scoring_func = scoring;
  c.n_group = groups;
  c.topk_group = topk_group;
  c.norm_topk_prob = norm;
  c.routed_scaling_factor = scale;
  return c;
}

TEST(MoeRouter, GreedySoftmaxV2ScalesWhenNotNormalised) {
  auto c = moe_config("DeepseekV2ForCausalLM", TopkMethod::Greedy, ScoringFunc::Softmax, 1, 1, 2, false, 3.0);
  MoeRouter r(c);
  const float logits[8] = {0, 1, 5, 2, 0, 4, 0, 0};
  int32_t ids[2];
  float w[2];
  r.route(logits, nullptr, ids, w);
  double z = 0;
  for (float l : logits) z += std::exp(l);
  EXPECT_EQ(ids[0], 2);
  EXPECT_EQ(ids[1], 5);
  EXPECT_NEAR(w[0], 3.0 * std::exp(5.0) / z, 1e-6);
  EXPECT_NEAR(w[1], 3.0 * std::exp(4.0) / z, 1e-6);
}

TEST(MoeRouter, V2NormalisedWeightsAreNotScaled) {
  auto c = moe_config("DeepseekV2ForCausalLM", TopkMethod::Greedy, ScoringFunc::Softmax, 1, 1, 2, true, 3.0);
  MoeRouter r(c);
  const float logits[8] = {0, 1, 5, 2, 0, 4, 0, 0};
  int32_t ids[2];
  float w[2];
  r.route(logits, nullptr, ids, w);
  EXPECT_NEAR(w[0] + w[1], 1.0, 1e-6);
}

TEST(MoeRouter, GroupLimitedGreedyKeepsBestGroupsByMax) {
  // Groups of 2: {0,1} {2,3} {4,5} {6,7}. Group maxima: 3, 2.9, 2.8, 1 -> keep groups 0 and 1.
  auto c = moe_config("DeepseekV2ForCausalLM", TopkMethod::GroupLimitedGreedy, ScoringFunc::Softmax, 4, 2, 3, false, 1.0);
  MoeRouter r(c);
  const float logits[8] = {3, -5, 2.9f, 2.85f, 2.8f, 2.79f, 1, 0};
  int32_t ids[3];
  float w[3];
  r.route(logits, nullptr, ids, w);
  std::vector<int32_t> got(ids, ids + 3);
  EXPECT_EQ(got, (std::vector<int32_t>{0, 2, 3}));  // expert 4 (2.8) is in a dropped group
}

TEST(MoeRouter, NoauxTcBiasChoosesButDoesNotWeigh) {
  // Sigmoid scores; the bias pushes expert 7 into the choice; weights are the unbiased scores,
  // normalised, then always scaled (V3).
  auto c = moe_config("DeepseekV3ForCausalLM", TopkMethod::NoauxTc, ScoringFunc::Sigmoid, 1, 1, 2, true, 2.5);
  MoeRouter r(c);
  const float logits[8] = {2, 1, 0, 0, 0, 0, 0, -1};
  const float bias[8] = {0, 0, 0, 0, 0, 0, 0, 1.0f};
  int32_t ids[2];
  float w[2];
  r.route(logits, bias, ids, w);
  auto sig = [](double x) { return 1 / (1 + std::exp(-x)); };
  EXPECT_EQ(ids[0], 7);  // sig(-1) + 1 = 1.27 beats sig(2) = 0.88 and sig(1) = 0.73
  EXPECT_EQ(ids[1], 0);
  const double sum = sig(2) + sig(-1);
  EXPECT_NEAR(w[0], 2.5 * sig(-1) / sum, 1e-6);
  EXPECT_NEAR(w[1], 2.5 * sig(2) / sum, 1e-6);
}

TEST(MoeRouter, NoauxTcGroupsScoredByTopTwoSum) {
  // Groups of 4: {0..3} {4..7}. Group 0: one big score; group 1: two good ones -> group 1 wins.
  auto c = moe_config("DeepseekV3ForCausalLM", TopkMethod::NoauxTc, ScoringFunc::Sigmoid, 2, 1, 2, false, 1.0);
  MoeRouter r(c);
  const float logits[8] = {4, -6, -6, -6, 1.5f, 1.5f, -6, -6};
  int32_t ids[2];
  float w[2];
  r.route(logits, nullptr, ids, w);
  std::vector<int32_t> got(ids, ids + 2);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int32_t>{4, 5}));
}

}  // namespace
}  // namespace mla
