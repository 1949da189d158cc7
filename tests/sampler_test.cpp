// Sampler tests: exact results where the sampler is deterministic (greedy, penalties, k = 1), and
// empirical frequencies against hand-computed renormalised distributions where it draws.
#include "sample/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"

namespace mla {
namespace {

constexpr int kDraws = 20000;
// Binomial standard deviation at p = 0.5 over 20000 draws is 0.0035: 0.02 is over 5 sigma, so
// a correct sampler fails these checks with probability far below 1e-6 (and seeds are fixed).
constexpr double kFreqTol = 0.02;

std::vector<float> logits_from_probs(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
  return l;
}

// Draw kDraws tokens with fresh copies of `logits` and return the frequency of each id.
std::map<int32_t, double> frequencies(Sampler& s, const std::vector<float>& logits,
                                      int draws = kDraws) {
  std::map<int32_t, int> counts;
  std::vector<float> work;
  for (int i = 0; i < draws; ++i) {
    work = logits;
    counts[s.sample(work, {})]++;
  }
  std::map<int32_t, double> freq;
  for (auto [id, c] : counts) freq[id] = static_cast<double>(c) / draws;
  return freq;
}

void expect_frequencies(const std::map<int32_t, double>& got,
                        const std::map<int32_t, double>& want, double tol = kFreqTol) {
  for (auto [id, f] : got)
    EXPECT_TRUE(want.count(id)) << "token " << id << " drawn (freq " << f << ") but filtered out";
  for (auto [id, p] : want) {
    auto it = got.find(id);
    const double f = it == got.end() ? 0.0 : it->second;
    EXPECT_NEAR(f, p, tol) << "token " << id;
  }
}

SamplingParams params_t1(uint64_t seed = 1) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = seed;
  return p;
}

TEST(Sampler, GreedyPicksArgmaxLowestIdOnTies) {
  Sampler s(SamplingParams{});
  std::vector<float> l = {0.1f, 3.0f, -1.0f, 3.0f, 2.9f};
  EXPECT_EQ(s.sample(l, {}), 1);
  std::vector<float> neg = {-5.0f, -2.0f, -2.0f};
  EXPECT_EQ(s.sample(neg, {}), 1);
  std::vector<float> one = {7.0f};
  EXPECT_EQ(s.sample(one, {}), 0);
}

TEST(Sampler, SameSeedSameSequenceDifferentSeedDiffers) {
  std::mt19937 gen(42);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> logits(1000);
  for (float& x : logits) x = nd(gen);

  auto run = [&](uint64_t seed) {
    SamplingParams p = params_t1(seed);
    p.top_p = 0.95f;
    Sampler s(p);
    std::vector<int32_t> out;
    for (int i = 0; i < 64; ++i) {
      std::vector<float> work = logits;
      out.push_back(s.sample(work, out));
    }
    return out;
  };
  const auto a = run(7), b = run(7), c = run(8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(Sampler, TopK1EqualsGreedy) {
  std::mt19937 gen(3);
  std::normal_distribution<float> nd(0.0f, 2.0f);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<float> logits(5000);
    for (float& x : logits) x = std::round(nd(gen) * 4.0f) / 4.0f;  // coarse: plenty of ties
    SamplingParams pk = params_t1(trial);
    pk.top_k = 1;
    pk.temperature = 1.3f;
    Sampler greedy(SamplingParams{}), k1(pk);
    std::vector<float> a = logits, b = logits;
    EXPECT_EQ(k1.sample(b, {}), greedy.sample(a, {}));
  }
}

TEST(Sampler, TemperatureOneMatchesSoftmax) {
  Sampler s(params_t1(11));
  const std::vector<double> probs = {0.5, 0.3, 0.15, 0.05};
  expect_frequencies(frequencies(s, logits_from_probs(probs)),
                     {{0, 0.5}, {1, 0.3}, {2, 0.15}, {3, 0.05}});
}

TEST(Sampler, TemperatureScalesLogits) {
  SamplingParams p = params_t1(12);
  p.temperature = 0.5f;
  Sampler s(p);
  const std::vector<float> logits = {1.0f, 2.0f, 3.0f};
  // softmax(l / 0.5) = softmax(2, 4, 6)
  const double z = std::exp(2.0) + std::exp(4.0) + std::exp(6.0);
  expect_frequencies(frequencies(s, logits),
                     {{0, std::exp(2.0) / z}, {1, std::exp(4.0) / z}, {2, std::exp(6.0) / z}});
}

TEST(Sampler, TopKKeepsKBestRenormalised) {
  SamplingParams p = params_t1(13);
  p.top_k = 2;
  Sampler s(p);
  // ids 2 and 0 are the two best
  const std::vector<double> probs = {0.3, 0.1, 0.4, 0.2};
  expect_frequencies(frequencies(s, logits_from_probs(probs)), {{2, 0.4 / 0.7}, {0, 0.3 / 0.7}});
}

TEST(Sampler, TopPKeepsOnlyTheNucleus) {
  // A DeepSeek-sized vocabulary: four strong tokens at scattered ids, the remaining 5% of the
  // mass spread over 129,276 others. Sorted: 0.45, 0.25 (cum 0.70 >= 0.65): nucleus {a, b}.
  const size_t vocab = 129280;
  const int32_t a = 90001, b = 17, c = 129279, d = 5000;
  std::vector<float> logits(vocab, static_cast<float>(std::log(0.05 / (vocab - 4))));
  logits[a] = static_cast<float>(std::log(0.45));
  logits[b] = static_cast<float>(std::log(0.25));
  logits[c] = static_cast<float>(std::log(0.15));
  logits[d] = static_cast<float>(std::log(0.10));
  SamplingParams p = params_t1(14);
  p.top_p = 0.65f;
  Sampler s(p);
  // 4000 draws keep the test quick at this vocabulary size; sigma is 0.0076 at p = 0.64, so the
  // tolerance 0.035 is 4.6 sigma.
  expect_frequencies(frequencies(s, logits, 4000), {{a, 0.45 / 0.70}, {b, 0.25 / 0.70}}, 0.035);
}

TEST(Sampler, TopPOnFlatDistributionMatchesFullSortReference) {
  // A flat distribution makes the nucleus thousands of tokens long, so the incremental sort has
  // to go through several chunks. Reference: full sort, cumulative sum, first index >= top_p.
  const size_t vocab = 129280;
  std::mt19937 gen(5);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> logits(vocab);
  for (float& x : logits) x = nd(gen);
  const float top_p = 0.3f;

  std::vector<int32_t> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t x, int32_t y) {
    return logits[x] > logits[y] || (logits[x] == logits[y] && x < y);
  });
  double z = 0.0;
  for (float x : logits) z += std::exp(static_cast<double>(x) - logits[order[0]]);
  std::set<int32_t> nucleus;
  double cum = 0.0;
  for (int32_t id : order) {
    nucleus.insert(id);
    cum += std::exp(static_cast<double>(logits[id]) - logits[order[0]]);
    if (cum >= top_p * z) break;
  }
  ASSERT_GT(nucleus.size(), 1000u);

  SamplingParams p = params_t1(15);
  p.top_p = top_p;
  Sampler s(p);
  std::vector<size_t> rank(vocab);
  for (size_t r = 0; r < vocab; ++r) rank[order[r]] = r;
  std::set<int32_t> drawn;
  size_t deepest = 0;
  std::vector<float> work;
  for (int i = 0; i < 500; ++i) {
    work = logits;
    const int32_t id = s.sample(work, {});
    ASSERT_TRUE(nucleus.count(id)) << "token " << id << " is outside the nucleus";
    drawn.insert(id);
    deepest = std::max(deepest, rank[id]);
  }
  // It samples across the whole nucleus, not only its head: the last tenth of the nucleus holds
  // about 8% of its mass, so 500 draws miss it with probability 0.92^500 ~ 1e-18.
  EXPECT_GT(drawn.size(), 300u);
  EXPECT_GE(deepest, nucleus.size() * 9 / 10);
}

TEST(Sampler, TopPIsTakenAfterTopK) {
  // probs 0.4, 0.3, 0.2, 0.1. top-k 2 renormalises to 0.571, 0.429; top-p 0.5 on that keeps
  // only id 0. (top-p 0.5 on the full distribution would keep ids 0 and 1.)
  SamplingParams p = params_t1(16);
  p.top_k = 2;
  p.top_p = 0.5f;
  Sampler s(p);
  const auto logits = logits_from_probs({0.4, 0.3, 0.2, 0.1});
  for (int i = 0; i < 200; ++i) {
    std::vector<float> work = logits;
    ASSERT_EQ(s.sample(work, {}), 0);
  }
  SamplingParams full = params_t1(16);
  full.top_p = 0.5f;
  Sampler s2(full);
  expect_frequencies(frequencies(s2, logits), {{0, 0.4 / 0.7}, {1, 0.3 / 0.7}});
}

TEST(Sampler, MinPKeepsTokensAboveFractionOfMax) {
  // max prob 0.5; min_p 0.1 -> keep p >= 0.05: ids 0, 1, 3 (0.5, 0.3, 0.11); id 2 (0.04) goes,
  // and so does id 4, just below the threshold.
  SamplingParams p = params_t1(17);
  p.min_p = 0.1f;
  Sampler s(p);
  const std::vector<double> probs = {0.5, 0.3, 0.04, 0.11, 0.05 - 1e-4};
  const double kept = 0.5 + 0.3 + 0.11;
  expect_frequencies(frequencies(s, logits_from_probs(probs)),
                     {{0, 0.5 / kept}, {1, 0.3 / kept}, {3, 0.11 / kept}});
}

TEST(Sampler, MinPOneKeepsOnlyTheMaximum) {
  SamplingParams p = params_t1(18);
  p.min_p = 1.0f;
  Sampler s(p);
  for (int i = 0; i < 100; ++i) {
    std::vector<float> l = {0.5f, 2.0f, 1.9f};
    ASSERT_EQ(s.sample(l, {}), 1);
  }
}

TEST(Sampler, RepetitionPenaltyDividesPositiveMultipliesNegativeOncePerId) {
  SamplingParams p;
  p.repetition_penalty = 2.0f;
  Sampler s(p);
  std::vector<float> l = {2.0f, -2.0f, 1.0f, 0.0f, 3.0f};
  const std::vector<int32_t> history = {0, 1, 0, 3, 1, 0};  // repeats are penalised once
  s.sample(l, history);
  EXPECT_FLOAT_EQ(l[0], 1.0f);   // 2 / 2
  EXPECT_FLOAT_EQ(l[1], -4.0f);  // -2 * 2
  EXPECT_FLOAT_EQ(l[2], 1.0f);   // not in history
  EXPECT_FLOAT_EQ(l[3], 0.0f);   // 0 stays 0
  EXPECT_FLOAT_EQ(l[4], 3.0f);

  // The penalty changes the greedy choice, and the scratch is clean for the next call.
  std::vector<float> g = {2.0f, 1.5f};
  const std::vector<int32_t> h0 = {0};
  EXPECT_EQ(s.sample(g, h0), 1);
  std::vector<float> g2 = {2.0f, 1.5f, 0.0f};
  const std::vector<int32_t> h2 = {2};
  EXPECT_EQ(s.sample(g2, h2), 0);
  EXPECT_FLOAT_EQ(g2[0], 2.0f);

  // A penalty below 1 rewards repetition, with the same sign handling.
  SamplingParams r;
  r.repetition_penalty = 0.5f;
  Sampler rs(r);
  std::vector<float> l2 = {2.0f, -2.0f};
  const std::vector<int32_t> h = {0, 1};
  rs.sample(l2, h);
  EXPECT_FLOAT_EQ(l2[0], 4.0f);
  EXPECT_FLOAT_EQ(l2[1], -1.0f);
}

TEST(Sampler, PresenceAndFrequencyPenaltiesCountGeneratedTokensOnly) {
  SamplingParams p;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  Sampler s(p);
  std::vector<float> l = {1.0f, 1.0f, 1.0f, 1.0f};
  // Prompt {3, 3}; generated {0, 1, 0, 0}: id 0 three times, id 1 once, id 3 only in the prompt.
  const std::vector<int32_t> history = {3, 3, 0, 1, 0, 0};
  s.sample(l, history, 2);
  EXPECT_FLOAT_EQ(l[0], 1.0f - 0.25f * 3 - 0.5f);
  EXPECT_FLOAT_EQ(l[1], 1.0f - 0.25f * 1 - 0.5f);
  EXPECT_FLOAT_EQ(l[2], 1.0f);
  EXPECT_FLOAT_EQ(l[3], 1.0f);
  // The scratch counts are clean for the next call: the same call gives the same result.
  std::vector<float> l2 = {1.0f, 1.0f, 1.0f, 1.0f};
  s.sample(l2, history, 2);
  EXPECT_FLOAT_EQ(l2[0], l[0]);
  // Negative penalties reward repetition and change the greedy choice.
  SamplingParams r;
  r.presence_penalty = -1.0f;
  Sampler rs(r);
  std::vector<float> g = {2.0f, 1.5f};
  const std::vector<int32_t> h = {1};
  EXPECT_EQ(rs.sample(g, h, 0), 1);
  EXPECT_THROW(rs.sample(g, h, 2), Error);  // prompt_len beyond the history
}

TEST(Sampler, HistoryIdOutsideVocabularyIsAnError) {
  SamplingParams p;
  p.repetition_penalty = 1.2f;
  Sampler s(p);
  std::vector<float> l = {1.0f, 2.0f};
  const std::vector<int32_t> h = {0, 2};
  EXPECT_THROW(s.sample(l, h), Error);
  std::vector<float> empty;
  EXPECT_THROW(s.sample(empty, {}), Error);
}

TEST(Sampler, MaskedTokensAreNeverDrawn) {
  Sampler s(params_t1(19));
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> logits = {-inf, 0.0f, -inf, 0.0f};
  expect_frequencies(frequencies(s, logits, 4000), {{1, 0.5}, {3, 0.5}});
}

TEST(Sampler, DeepseekVocabularyIsFast) {
  // 129,280 logits, temperature + top-p + min-p + a 2k-token history: the decode-time workload.
  const size_t vocab = 129280;
  std::mt19937 gen(6);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  std::vector<float> logits(vocab);
  for (float& x : logits) x = nd(gen);
  std::vector<int32_t> history(2048);
  for (int32_t& id : history) id = static_cast<int32_t>(gen() % vocab);
  SamplingParams p = params_t1(20);
  p.temperature = 0.7f;
  p.top_p = 0.95f;
  p.min_p = 0.01f;
  p.repetition_penalty = 1.1f;
  Sampler s(p);
  std::vector<float> work = logits;
  s.sample(work, history);  // first call sizes the scratch
  const int calls = 50;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) {
    work = logits;
    s.sample(work, history);
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() /
      calls;
  std::printf("sample() on %zu logits: %.3f ms per call\n", vocab, ms);
  EXPECT_LT(ms, 50.0);  // loose: holds under sanitizers too; a Release build is far below it
}

void expect_rejected(SamplingParams p, const std::string& name) {
  try {
    Sampler s(p);
    ADD_FAILURE() << "accepted invalid " << name;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
  }
}

TEST(Sampler, InvalidParamsAreRejectedByName) {
  SamplingParams p;
  p.temperature = -0.1f;
  expect_rejected(p, "temperature");
  p.temperature = std::nanf("");
  expect_rejected(p, "temperature");
  p = {};
  p.top_p = 0.0f;
  expect_rejected(p, "top_p");
  p.top_p = 1.01f;
  expect_rejected(p, "top_p");
  p.top_p = std::nanf("");
  expect_rejected(p, "top_p");
  p = {};
  p.min_p = -0.01f;
  expect_rejected(p, "min_p");
  p.min_p = 1.5f;
  expect_rejected(p, "min_p");
  p = {};
  p.repetition_penalty = 0.0f;
  expect_rejected(p, "repetition_penalty");
  p.repetition_penalty = -1.0f;
  expect_rejected(p, "repetition_penalty");
  p = {};
  p.top_k = -1;
  expect_rejected(p, "top_k");
  p = {};
  p.presence_penalty = 2.5f;
  expect_rejected(p, "presence_penalty");
  p.presence_penalty = std::nanf("");
  expect_rejected(p, "presence_penalty");
  p = {};
  p.frequency_penalty = -2.01f;
  expect_rejected(p, "frequency_penalty");

  // The edges of the valid ranges are accepted.
  p = {};
  p.top_p = 1.0f;
  p.min_p = 1.0f;
  p.temperature = 0.0f;
  EXPECT_NO_THROW(Sampler{p});
}

}  // namespace
}  // namespace mla
