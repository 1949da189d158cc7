#include "model/moe_router.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace mla {

MoeRouter::MoeRouter(const ModelConfig& cfg)
    : cfg_(cfg),
      scores_(cfg.n_routed_experts.value_or(0)),
      choice_(cfg.n_routed_experts.value_or(0)),
      group_score_(cfg.n_group),
      order_(std::max<int64_t>(cfg.n_routed_experts.value_or(0), cfg.n_group)) {}

void MoeRouter::route(const float* logits, const float* bias, int32_t* experts, float* weights) {
  const int64_t E = scores_.size(), k = cfg_.num_experts_per_tok;
  // Affinity scores s_i: softmax over experts (V2) or a per-expert sigmoid (V3).
  if (cfg_.scoring_func == ScoringFunc::Softmax) {
    const float m = *std::max_element(logits, logits + E);
    double sum = 0;
    for (int64_t e = 0; e < E; ++e) sum += (scores_[e] = std::exp(logits[e] - m));
    for (int64_t e = 0; e < E; ++e) scores_[e] = static_cast<float>(scores_[e] / sum);
  } else {
    for (int64_t e = 0; e < E; ++e) scores_[e] = 1.0f / (1.0f + std::exp(-logits[e]));
  }
  // Scores used for choosing; only noaux_tc adds the load-balancing bias.
  for (int64_t e = 0; e < E; ++e)
    choice_[e] = scores_[e] + (cfg_.topk_method == TopkMethod::NoauxTc && bias ? bias[e] : 0.0f);

  // Device/node-limited routing: keep the experts of the best topk_group groups only.
  if (cfg_.topk_method != TopkMethod::Greedy && cfg_.n_group > 1) {
    const int64_t G = cfg_.n_group, per = E / G;
    for (int64_t g = 0; g < G; ++g) {
      float* s = choice_.data() + g * per;
      if (cfg_.topk_method == TopkMethod::GroupLimitedGreedy) {
        group_score_[g] = *std::max_element(s, s + per);  // V2: the group's best expert
      } else {
        // V3: the sum of the group's two best biased scores.
        float a = -std::numeric_limits<float>::infinity(), b = a;
        for (int64_t i = 0; i < per; ++i) {
          if (s[i] > a) {
            b = a;
            a = s[i];
          } else if (s[i] > b) {
            b = s[i];
          }
        }
        group_score_[g] = per >= 2 ? a + b : a;
      }
    }
    std::iota(order_.begin(), order_.begin() + G, 0);
    std::partial_sort(order_.begin(), order_.begin() + cfg_.topk_group, order_.begin() + G,
                      [&](int32_t x, int32_t y) { return group_score_[x] > group_score_[y] || (group_score_[x] == group_score_[y] && x < y); });
    for (int64_t g = 0; g < G; ++g) {
      const bool kept = std::find(order_.begin(), order_.begin() + cfg_.topk_group, g) != order_.begin() + cfg_.topk_group;
      if (!kept)
        for (int64_t i = 0; i < per; ++i) choice_[g * per + i] = -std::numeric_limits<float>::infinity();
    }
  }

  std::iota(order_.begin(), order_.begin() + E, 0);
  std::partial_sort(order_.begin(), order_.begin() + k, order_.begin() + E,
                    [&](int32_t x, int32_t y) { return choice_[x] > choice_[y] || (choice_[x] == choice_[y] && x < y); });
  double sum = 0;
  for (int64_t i = 0; i < k; ++i) {
    experts[i] = order_[i];
    weights[i] = scores_[order_[i]];  // weights come from the unbiased scores
    sum += weights[i];
  }
  // V2 scales by routed_scaling_factor only when the weights are not renormalised; V3 always.
  const bool normalize = k > 1 && cfg_.norm_topk_prob;
  const double scale = (normalize && !cfg_.is_v3()) ? 1.0 : cfg_.routed_scaling_factor;
  for (int64_t i = 0; i < k; ++i) {
    double w = weights[i];
    if (normalize) w /= sum + 1e-20;
    weights[i] = static_cast<float>(w * scale);
  }
}

}  // namespace mla
