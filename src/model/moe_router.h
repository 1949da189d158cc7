// DeepSeekMoE routing (DeepSeek-V2 paper sec. 2.2, DeepSeek-V3 paper sec. 2.1.2): which routed
// experts a token goes to and with what weights, as the published configs specify it.
#pragma once
#include <cstdint>
#include <vector>

#include "model/config.h"

namespace mla {

class MoeRouter {
 public:
  explicit MoeRouter(const ModelConfig& cfg);
  // logits[n_routed_experts] from the gate; bias[n_routed_experts] is e_score_correction_bias
  // (noaux_tc only; it changes which experts are chosen, never their weights).
  // Writes num_experts_per_tok expert ids and weights.
  void route(const float* logits, const float* bias, int32_t* experts, float* weights);

 private:
  const ModelConfig& cfg_;
  std::vector<float> scores_, choice_, group_score_;  // scratch: [E], [E], [n_group]
  std::vector<int32_t> order_;
};

}  // namespace mla
