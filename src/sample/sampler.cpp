// Token sampler. See sampler.h for the order the transforms run in.
//
// Cost per call on a vocabulary of n (129,280 for DeepSeek-V3): one pass for greedy; otherwise a
// few passes (scale, exp, filter) plus a sort of only as many tokens as the top-p nucleus needs.
// Nothing allocates after the first call: the scratch vectors keep their capacity.
#include "sample/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"

namespace mla {

namespace {

// The one order every filter agrees on: higher logit first, lower id on ties. Filters then keep
// prefixes of it, which makes "top-k = 1" and greedy pick the same token.
struct ByLogitDesc {
  const float* logits;
  bool operator()(int32_t a, int32_t b) const {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  }
};

// Strict '>' keeps the lowest id among equal maxima.
int32_t argmax(std::span<const float> logits) {
  int32_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[best]) best = static_cast<int32_t>(i);
  return best;
}

// Uniform double in [0, 1) from the top 53 bits: the same on every standard library, unlike
// std::uniform_real_distribution, whose algorithm is implementation-defined.
double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Leaves the k best ids (by ByLogitDesc) in cand[0, k), in no particular order. For small k a
// bounded heap whose root is the worst kept token: a single comparison against a register
// rejects almost every token of a large vocabulary. For large k, nth_element.
void select_top_k(const float* logits, size_t n, size_t k, int32_t* cand) {
  const ByLogitDesc order{logits};
  if (k > n / 8) {
    std::iota(cand, cand + n, 0);
    std::nth_element(cand, cand + k, cand + n, order);
    return;
  }
  std::iota(cand, cand + k, 0);
  std::make_heap(cand, cand + k, order);  // "largest" under `order` = worst token at the root
  float worst = logits[cand[0]];
  for (size_t i = k; i < n; ++i) {
    // Ties with the worst kept token lose: i is a higher id than every token already kept.
    if (logits[i] > worst) {
      std::pop_heap(cand, cand + k, order);
      cand[k - 1] = static_cast<int32_t>(i);
      std::push_heap(cand, cand + k, order);
      worst = logits[cand[0]];
    }
  }
}

}  // namespace

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {
  const SamplingParams& p = params;
  if (!(p.temperature >= 0.0f) || !std::isfinite(p.temperature))
    fail("sampling parameter temperature must be a finite number >= 0, got ", p.temperature);
  if (p.top_k < 0) fail("sampling parameter top_k must be >= 0 (0 = off), got ", p.top_k);
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f))
    fail("sampling parameter top_p must be in (0, 1] (1 = off), got ", p.top_p);
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f))
    fail("sampling parameter min_p must be in [0, 1] (0 = off), got ", p.min_p);
  if (!(p.repetition_penalty > 0.0f) || !std::isfinite(p.repetition_penalty))
    fail("sampling parameter repetition_penalty must be a finite number > 0 (1 = off), got ",
         p.repetition_penalty);
  if (!(p.presence_penalty >= -2.0f && p.presence_penalty <= 2.0f))
    fail("sampling parameter presence_penalty must be in [-2, 2] (0 = off), got ", p.presence_penalty);
  if (!(p.frequency_penalty >= -2.0f && p.frequency_penalty <= 2.0f))
    fail("sampling parameter frequency_penalty must be in [-2, 2] (0 = off), got ", p.frequency_penalty);
}

int32_t Sampler::sample(std::span<float> logits, std::span<const int32_t> history, size_t prompt_len) {
  const size_t n = logits.size();
  if (n == 0) fail("Sampler::sample: empty logits");
  if (prompt_len > history.size()) fail("Sampler::sample: prompt_len ", prompt_len, " beyond history of ", history.size());
  float* l = logits.data();

  // Repetition penalty (Keskar et al. 2019, CTRL, section 4.1; as Hugging Face's
  // RepetitionPenaltyLogitsProcessor): each distinct id seen once, positive logits divided,
  // negative ones multiplied, so a penalty > 1 always lowers the token's probability.
  if (params_.repetition_penalty != 1.0f && !history.empty()) {
    for (int32_t id : history)
      if (id < 0 || static_cast<size_t>(id) >= n)
        fail("Sampler::sample: history holds id ", id, ", outside the vocabulary of ", n);
    if (seen_.size() < n) seen_.resize(n, 0);
    const float penalty = params_.repetition_penalty;
    for (int32_t id : history) {
      if (seen_[id]) continue;
      seen_[id] = 1;
      l[id] = l[id] > 0.0f ? l[id] / penalty : l[id] * penalty;
    }
    for (int32_t id : history) seen_[id] = 0;  // leave the scratch clean for the next call
  }

  // Presence and frequency penalties (OpenAI API reference, "Parameter details"), generated ids only.
  if ((params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f) && history.size() > prompt_len) {
    const auto generated = history.subspan(prompt_len);
    for (int32_t id : generated)
      if (id < 0 || static_cast<size_t>(id) >= n)
        fail("Sampler::sample: history holds id ", id, ", outside the vocabulary of ", n);
    if (counts_.size() < n) counts_.resize(n, 0);
    for (int32_t id : generated) ++counts_[id];
    for (int32_t id : generated) {
      if (counts_[id] == 0) continue;  // already applied
      l[id] -= params_.frequency_penalty * static_cast<float>(counts_[id]) + params_.presence_penalty;
      counts_[id] = 0;  // applied once per distinct id; leaves the scratch clean
    }
  }

  if (params_.temperature == 0.0f || params_.top_k == 1) return argmax(logits);

  float max_logit = -std::numeric_limits<float>::infinity();
  if (params_.temperature != 1.0f) {
    for (size_t i = 0; i < n; ++i) {
      l[i] /= params_.temperature;
      max_logit = std::max(max_logit, l[i]);
    }
  } else {
    max_logit = *std::max_element(l, l + n);
  }
  if (!(max_logit > -std::numeric_limits<float>::infinity())) return 0;  // everything masked

  if (candidates_.size() < n) candidates_.resize(n);
  if (weights_.size() < n) weights_.resize(n);
  int32_t* cand = candidates_.data();
  float* w = weights_.data();  // by id: unnormalised probability p_i / p_max = exp(l_i - l_max)
  const ByLogitDesc order{l};

  // top-k: the k best in any order.
  size_t count = n;
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < n) {
    count = static_cast<size_t>(params_.top_k);
    select_top_k(l, n, count, cand);
  } else {
    std::iota(cand, cand + n, 0);
  }

  // Mass of the top-k survivors: top-p's cumulative probabilities are relative to it.
  double mass = 0.0;
  for (size_t i = 0; i < count; ++i) {
    const int32_t id = cand[i];
    w[id] = std::exp(l[id] - max_logit);
    mass += w[id];
  }

  // min-p keeps p_i >= min_p * p_max, i.e. w >= min_p. Renormalising after top-k/top-p does not
  // change that ratio, so it can be found up front. It keeps a prefix of the order too, so
  // moving its survivors to the front bounds how far top-p has to sort.
  size_t limit = count;
  if (params_.min_p > 0.0f) {
    const float min_p = params_.min_p;
    limit = static_cast<size_t>(
        std::partition(cand, cand + count, [&](int32_t id) { return w[id] >= min_p; }) - cand);
  }

  // top-p (Holtzman et al. 2019): the shortest prefix whose cumulative probability reaches
  // top_p.
  size_t keep = limit;
  if (params_.top_p < 1.0f) {
    const double target = static_cast<double>(params_.top_p) * mass;
    // The nucleus is usually a few dozen tokens of 129k. Tokens with w >= 1e-4 are a prefix of
    // the order; when they already hold the target mass, the nucleus lies among them and only
    // they need sorting.
    size_t region = limit;
    {
      constexpr float kLikely = 1e-4f;
      double likely_mass = 0.0;
      size_t front = 0;
      for (size_t i = 0; i < limit; ++i) {
        if (w[cand[i]] >= kLikely) {
          likely_mass += w[cand[i]];
          std::swap(cand[i], cand[front++]);
        }
      }
      if (likely_mass >= target) region = front;
    }
    // Sort incrementally, a growing chunk at a time: nth_element moves the next chunk's tokens
    // forward in O(remaining), then only that chunk is sorted.
    double cumulative = 0.0;
    size_t sorted = 0, chunk = 64;
    bool reached = false;
    while (sorted < region && !reached) {
      const size_t end = std::min(region, sorted + chunk);
      if (end < region) std::nth_element(cand + sorted, cand + end, cand + region, order);
      std::sort(cand + sorted, cand + end, order);
      for (size_t i = sorted; i < end; ++i) {
        cumulative += w[cand[i]];
        if (cumulative >= target) {
          keep = i + 1;
          reached = true;
          break;
        }
      }
      sorted = end;
      chunk *= 8;
    }
    if (!reached) keep = region;  // rounding: the whole region is the nucleus
  }
  if (keep == 1) return cand[0];

  // Draw from the kept tokens, renormalised.
  double kept_mass = 0.0;
  for (size_t i = 0; i < keep; ++i) kept_mass += w[cand[i]];
  const double threshold = uniform01(rng_) * kept_mass;
  double cumulative = 0.0;
  int32_t last_possible = cand[0];
  for (size_t i = 0; i < keep; ++i) {
    const float wi = w[cand[i]];
    if (wi <= 0.0f) continue;  // masked (-inf) tokens are never drawn
    cumulative += wi;
    last_possible = cand[i];
    if (cumulative > threshold) return cand[i];
  }
  return last_possible;  // rounding left the threshold a hair above the sum
}

}  // namespace mla
