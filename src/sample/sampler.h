// Token sampling from logits: greedy, temperature, top-k, top-p, min-p, repetition penalty, with a
// seeded RNG so runs are reproducible.
#pragma once
#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace mla {

struct SamplingParams {
  float temperature = 0.0f;         // 0: greedy (argmax)
  int32_t top_k = 0;                // 0: off
  float top_p = 1.0f;               // 1: off
  float min_p = 0.0f;               // 0: off
  float repetition_penalty = 1.0f;  // 1: off; CTRL-style, applied to ids seen in prompt + output
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);
  // `logits` is modified in place (penalties, temperature). `history`: prompt + generated ids.
  int32_t sample(std::span<float> logits, std::span<const int32_t> history);

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<int32_t> candidates_;  // scratch, reused across calls
};

}  // namespace mla
