// Token sampling from logits: greedy, temperature, top-k, top-p, min-p, repetition penalty, with a
// seeded RNG so runs are reproducible.
//
// Order (as Hugging Face's logits processors and llama.cpp's default chain apply them):
//   repetition penalty -> presence/frequency penalties -> temperature -> top-k -> top-p -> min-p -> draw.
// Every filter keeps a prefix of the tokens ordered by (logit desc, id asc), so the kept set is the
// shortest of the three prefixes; top-p's cumulative mass is taken over the top-k survivors.
#pragma once
#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace mla {

struct SamplingParams {
  float temperature = 0.0f;         // 0: greedy (argmax, ties -> lowest id)
  int32_t top_k = 0;                // 0: off
  float top_p = 1.0f;               // 1: off; smallest prefix with cumulative prob >= top_p
  float min_p = 0.0f;               // 0: off; keep prob >= min_p * max prob
  float repetition_penalty = 1.0f;  // 1: off; CTRL-style, applied to ids seen in prompt + output
  // OpenAI's penalties over the generated tokens only: logit[j] -= frequency_penalty * count[j] +
  // presence_penalty * (count[j] > 0). Each in [-2, 2]; 0: off.
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  uint64_t seed = 0;
};

class Sampler {
 public:
  // Throws mla::Error naming the first invalid parameter.
  explicit Sampler(const SamplingParams& params);
  // `logits` is modified in place (penalties, temperature). `history`: prompt + generated ids, the
  // first `prompt_len` of them the prompt. Allocates only on the first call (or when the vocabulary
  // grows): scratch is reused.
  int32_t sample(std::span<float> logits, std::span<const int32_t> history, size_t prompt_len = 0);

  const SamplingParams& params() const { return params_; }

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<int32_t> candidates_;  // scratch, reused across calls: token ids still in play
  std::vector<float> weights_;       // scratch, reused: exp(logit - max logit), indexed by id
  std::vector<uint8_t> seen_;        // scratch, reused: marks ids already penalised this call
  std::vector<int32_t> counts_;      // scratch, reused: occurrences of each id among generated tokens
};

}  // namespace mla
