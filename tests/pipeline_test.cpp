// The pipeline split by layers (docs/DISTRIBUTED.md) without MPI: the plan that balances weight
// bytes (checked against every possible split on small cases), --split-layers parsing, and the
// model seam itself: stages of a model chained in one process through a queue, driven by rank 0's
// step descriptions (encoded and decoded), give the logits of the whole model, prefill and decode,
// MLA (both paths) and Llama with tied embeddings, and decode_batch split into micro-batches in
// flight at once; the step codec refuses malformed messages.
// (engine_test runs the serving engine over such a pipeline too.)
#include "dist/pipeline_plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "core/error.h"
#include "dist/pipeline_step.h"
#include "model/model.h"
#include "model/random_weights.h"
#include "testing/chained_pipeline.h"
#include "testing/max_abs.h"
#include "testing/tiny_models.h"

namespace mla {
namespace {

using testing::max_abs_diff;

using dist::balance_layers;
using dist::ModelBytes;
using dist::parse_split_layers;
using dist::StagePlan;
using testing::QueueLink;

uint64_t max_stage(const std::vector<StagePlan>& p) {
  uint64_t m = 0;
  for (const auto& s : p) m = std::max(m, s.weight_bytes);
  return m;
}

// The smallest largest-stage bytes over every split of L layers into n non-empty stages.
uint64_t brute_force(const ModelBytes& b, int n) {
  const int L = static_cast<int>(b.layer.size());
  uint64_t best = UINT64_MAX;
  std::vector<int> cuts(n - 1);
  // cuts: increasing split points in [1, L-1]; enumerate combinations.
  std::function<void(int, int)> rec = [&](int i, int from) {
    if (i == n - 1) {
      uint64_t worst = 0;
      int begin = 0;
      for (int r = 0; r < n; ++r) {
        const int end = r == n - 1 ? L : cuts[r];
        uint64_t s = (r == 0 ? b.embed : 0) + (r == n - 1 ? b.head : 0);
        for (int l = begin; l < end; ++l) s += b.layer[l];
        worst = std::max(worst, s);
        begin = end;
      }
      best = std::min(best, worst);
      return;
    }
    for (int c = from; c <= L - (n - 1 - i); ++c) {
      cuts[i] = c;
      rec(i + 1, c + 1);
    }
  };
  rec(0, 1);
  return best;
}

TEST(PipelinePlan, BalancesWeightBytes) {
  // Uniform layers, a large embedding and head: the end stages take fewer layers.
  ModelBytes b;
  b.layer.assign(10, 100);
  b.embed = 250;
  b.head = 250;
  const auto plan = balance_layers(b, 3);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].layer_begin, 0);
  EXPECT_EQ(plan[2].layer_end, 10);
  for (size_t r = 0; r + 1 < plan.size(); ++r) EXPECT_EQ(plan[r].layer_end, plan[r + 1].layer_begin);
  // The end stages carry 250 B more each, so they take fewer layers (550 B at most; ties allowed).
  EXPECT_LE(plan[0].layer_end, 3);
  EXPECT_GE(plan[1].layer_end - plan[1].layer_begin, 4);
  EXPECT_LE(plan[2].layer_end - plan[2].layer_begin, 3);
  EXPECT_EQ(max_stage(plan), 550u);
  // One rank: everything.
  const auto one = balance_layers(b, 1);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].weight_bytes, 1500u);
  EXPECT_THROW(balance_layers(b, 11), Error);
  EXPECT_THROW(balance_layers(b, 0), Error);
}

TEST(PipelinePlan, OptimalAgainstEverySplit) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    ModelBytes b;
    const int L = 1 + static_cast<int>(rng() % 9);
    for (int l = 0; l < L; ++l) b.layer.push_back(rng() % 1000);
    b.embed = rng() % 3000;
    b.head = rng() % 3000;
    for (int n = 1; n <= std::min(L, 4); ++n) {
      const auto plan = balance_layers(b, n);
      ASSERT_EQ(static_cast<int>(plan.size()), n);
      int64_t next = 0;
      uint64_t total = 0;
      for (const auto& s : plan) {
        EXPECT_EQ(s.layer_begin, next);
        EXPECT_LT(s.layer_begin, s.layer_end);
        next = s.layer_end;
        total += s.weight_bytes;
      }
      EXPECT_EQ(next, L);
      uint64_t all = b.embed + b.head;
      for (uint64_t x : b.layer) all += x;
      EXPECT_EQ(total, all);
      EXPECT_EQ(max_stage(plan), brute_force(b, n)) << "L=" << L << " n=" << n;
    }
  }
}

TEST(PipelinePlan, ParsesSplitLayers) {
  ModelBytes b;
  b.layer = {1, 2, 3, 4, 5};
  b.embed = 10;
  b.head = 20;
  const auto plan = parse_split_layers("0-1,2,3-4", b, 3);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].layer_end, 2);
  EXPECT_EQ(plan[0].weight_bytes, 13u);
  EXPECT_EQ(plan[1].layer_begin, 2);
  EXPECT_EQ(plan[1].layer_end, 3);
  EXPECT_EQ(plan[1].weight_bytes, 3u);
  EXPECT_EQ(plan[2].weight_bytes, 29u);
  for (const char* bad : {"0-1,3-4", "0-2,2-4", "0-1,2-5", "1-4", "0-1", "0-1,x", "0-1,3-2", ""})
    EXPECT_THROW(parse_split_layers(bad, b, bad == std::string("0-1") ? 1 : 2), Error) << bad;
  EXPECT_THROW(parse_split_layers("0-1,2-4", b, 3), Error);  // 2 stages for 3 ranks
}

// The whole model against the same weights split at `cuts` (stage s: layers [cuts[s], cuts[s+1])),
// driven as rank 0 drives the ranks: each step described to the other stages, which run it on
// their mirrored caches.
void check_split(const ModelConfig& cfg, const std::vector<int64_t>& cuts, AttnMode mode) {
  ThreadPool pool(2);
  const int64_t V = cfg.vocab_size;
  const std::vector<int32_t> prompt = {3, 17, 5, 42, 8, 1, 29};
  const std::vector<int32_t> steps = {11, 4, 60};
  auto build = [&](const Stage& stage) {
    return build_model(cfg, std::make_unique<RandomWeights>(DType::F32, 3, pool), pool, {}, stage);
  };
  auto whole = build(Stage{});
  KvCache wc = whole->make_cache(16);
  std::vector<float> want(prompt.size() * V), want_step(V);
  whole->forward(prompt, wc, mode, true, want.data());

  auto split = testing::chained_pipeline(cuts, build);
  KvCache cache = split->make_cache(16);  // rank 0's: its own layers only
  EXPECT_EQ(cache.bytes_per_token(), wc.bytes_per_token() / cfg.num_hidden_layers * cuts[1]);
  std::vector<float> got(prompt.size() * V), got_step(V);
  split->forward(prompt, cache, mode, true, got.data());
  float scale = 0;
  for (float x : want) scale = std::max(scale, std::fabs(x));
  EXPECT_LE(max_abs_diff(got, want), 1e-5f * scale) << "prefill";
  for (int32_t t : steps) {
    whole->forward({&t, 1}, wc, mode, false, want_step.data());
    split->forward({&t, 1}, cache, mode, false, got_step.data());
    EXPECT_LE(max_abs_diff(got_step, want_step), 1e-5f * scale) << "decode token " << t;
  }
}

TEST(Pipeline, StagesEqualTheWholeModel) {
  ModelConfig v3 = testing::tiny_deepseek_v3();
  v3.num_hidden_layers = 3;
  for (AttnMode mode : {AttnMode::Naive, AttnMode::Absorbed}) {
    check_split(v3, {0, 1, 3}, mode);
    check_split(v3, {0, 1, 2, 3}, mode);
  }
  ModelConfig llama = testing::tiny_llama(6, 2, /*tied=*/true);
  llama.num_hidden_layers = 3;
  check_split(llama, {0, 2, 3}, AttnMode::Auto);
  check_split(llama, {0, 1, 2, 3}, AttnMode::Auto);
}

// Sequences of different lengths in one paged arena of `m`'s layers, each prefilled with its prompt.
struct PagedBatch {
  std::shared_ptr<KvBlockArena> arena;
  std::vector<KvCache> caches;
  std::vector<KvCache*> ptrs;
  PagedBatch(Model& m, const std::vector<std::vector<int32_t>>& prompts) {
    constexpr int64_t kBlock = 4, kBlocksPerSeq = 4;
    arena = std::make_shared<KvBlockArena>(m.stage().n_layers(), m.cache_row_width(),
                                           static_cast<int64_t>(prompts.size()) * kBlocksPerSeq, kBlock,
                                           kv::CacheDtype::F32);
    for (size_t i = 0; i < prompts.size(); ++i) {
      KvCache& c = caches.emplace_back(arena, kBlock * kBlocksPerSeq);
      // Interleaved block ids: each sequence's rows are spread over the arena.
      for (int64_t b = 0; b < kBlocksPerSeq; ++b)
        c.block_table().push_back(static_cast<int32_t>(b * static_cast<int64_t>(prompts.size()) + i));
      m.forward(prompts[i], c, AttnMode::Auto, false, nullptr);
    }
    for (KvCache& c : caches) ptrs.push_back(&c);
  }
};

// decode_batch of 5 sequences over a two-stage pipeline, in 1 (off), 2, 3 and 5 micro-batches and
// asked for 9 (never more groups than sequences): the logits of the whole model's decode_batch,
// over several steps, so the stages' caches stay in step too.
TEST(Pipeline, MicroBatchedDecodeEqualsTheWholeModel) {
  ThreadPool pool(2);
  const ModelConfig cfg = testing::tiny_deepseek_v3();
  const int64_t V = cfg.vocab_size;
  auto build = [&](const Stage& stage) {
    return build_model(cfg, std::make_unique<RandomWeights>(DType::F32, 9, pool), pool, {}, stage);
  };
  const std::vector<std::vector<int32_t>> prompts = {{3, 17}, {5}, {42, 8, 1, 29, 6}, {11, 4, 60}, {7, 7, 7, 2}};
  const std::vector<std::vector<int32_t>> steps = {{1, 2, 3, 4, 5}, {60, 50, 40, 30, 20}, {9, 8, 7, 6, 5}};
  auto whole = build(Stage{});
  PagedBatch wb(*whole, prompts);
  std::vector<std::vector<float>> want;
  for (const auto& ids : steps) {
    want.emplace_back(ids.size() * V);
    whole->decode_batch(ids, wb.ptrs, AttnMode::Auto, want.back().data());
  }
  for (int64_t m : {1, 2, 3, 5, 9}) {
    auto split = testing::chained_pipeline({0, 1, 2}, build, m);
    PagedBatch sb(*split, prompts);
    for (size_t t = 0; t < steps.size(); ++t) {
      std::vector<float> got(steps[t].size() * V);
      split->decode_batch(steps[t], sb.ptrs, AttnMode::Auto, got.data());
      float scale = 0;
      for (float x : want[t]) scale = std::max(scale, std::fabs(x));
      // A group of one row takes the AVX-512 matrix-vector kernels, whose sums are ordered otherwise
      // than the batched ones (as in one process for a sequence decoding alone): measured 1.3e-6 at
      // most here. Groups of two rows or more (m <= 2 for 5 sequences): exact.
      if (m <= 2) {
        EXPECT_EQ(got, want[t]) << m << " micro-batches, step " << t;
      }
      EXPECT_LE(max_abs_diff(got, want[t]), 1e-5f * scale) << m << " micro-batches, step " << t;
    }
  }
}

TEST(PipelineStep, SplitsADecodeStepIntoGroups) {
  auto arena = std::make_shared<KvBlockArena>(1, 8, 8, 4, kv::CacheDtype::F32);
  std::vector<KvCache> caches;
  std::vector<KvCache*> ptrs;
  for (int i = 0; i < 5; ++i) {
    caches.emplace_back(arena, 8).block_table() = {i};
    caches.back().set_n_tokens(i);
  }
  for (KvCache& c : caches) ptrs.push_back(&c);
  const std::vector<int32_t> tokens = {10, 11, 12, 13, 14};
  const dist::Step step = dist::describe_decode(tokens, ptrs, AttnMode::Naive);
  const std::vector<dist::Step> groups = dist::split_decode(step, 3);
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].tokens, (std::vector<int32_t>{10, 11}));
  EXPECT_EQ(groups[1].tokens, (std::vector<int32_t>{12, 13}));
  EXPECT_EQ(groups[2].tokens, (std::vector<int32_t>{14}));
  EXPECT_EQ(groups[2].seqs[0].n_tokens, 4);
  EXPECT_EQ(groups[2].seqs[0].block_table, (std::vector<int32_t>{4}));
  for (const dist::Step& g : groups) {
    EXPECT_EQ(g.mode, AttnMode::Naive);
    EXPECT_EQ(g.arena, step.arena);
    EXPECT_EQ(g.seqs.size(), g.tokens.size());
  }
  EXPECT_EQ(dist::split_decode(step, 1).size(), 1u);
  EXPECT_EQ(dist::split_decode(step, 8).size(), 5u);  // never more groups than sequences
  EXPECT_THROW(dist::split_decode(step, 0), Error);
  EXPECT_THROW(dist::split_decode(dist::quit_step(), 2), Error);
}

TEST(PipelineStep, RoundTripsAndRefusesMalformedMessages) {
  // Two sequences of a paged arena: one sharing the other's first block.
  auto arena = std::make_shared<KvBlockArena>(1, 8, 6, 4, kv::CacheDtype::BF16);
  KvCache a(arena, 20), b(arena, 12);
  a.block_table() = {2, 0, 5};
  a.set_n_tokens(9);
  b.block_table() = {2, 4};
  b.set_n_tokens(4);
  const std::vector<int32_t> tokens = {7, 90};
  const std::vector<KvCache*> caches = {&a, &b};
  const dist::Step step = dist::describe_decode(tokens, caches, AttnMode::Absorbed);
  const std::vector<int64_t> msg = dist::encode_step(step);
  const dist::Step back = dist::decode_step(msg);
  EXPECT_EQ(back.op, dist::StepOp::DecodeBatch);
  EXPECT_EQ(back.mode, AttnMode::Absorbed);
  EXPECT_EQ(back.arena, (dist::ArenaShape{6, 4, kv::CacheDtype::BF16}));
  EXPECT_EQ(back.tokens, tokens);
  ASSERT_EQ(back.seqs.size(), 2u);
  EXPECT_EQ(back.seqs[0].n_tokens, 9);
  EXPECT_EQ(back.seqs[0].max_tokens, 20);
  EXPECT_EQ(back.seqs[0].block_table, a.block_table());
  EXPECT_EQ(back.seqs[1].block_table, b.block_table());
  EXPECT_EQ(dist::step_logits(back, 97), 2 * 97);
  EXPECT_EQ(dist::encode_step(back), msg);

  const dist::Step fwd = dist::decode_step(dist::encode_step(dist::describe_forward(tokens, a, AttnMode::Naive, false, true)));
  EXPECT_EQ(dist::step_logits(fwd, 97), 97);  // the last row's only
  EXPECT_EQ(dist::decode_step(dist::encode_step(dist::quit_step())).op, dist::StepOp::Quit);

  // Caches of two arenas cannot be mirrored by one.
  KvCache other = KvCache(1, 8, 16);
  const std::vector<KvCache*> mixed = {&a, &other};
  EXPECT_THROW(dist::describe_decode(tokens, mixed, AttnMode::Auto), Error);

  auto broken = [&](size_t i, int64_t v) {
    std::vector<int64_t> m = msg;
    m[i] = v;
    return m;
  };
  for (size_t cut = 0; cut < msg.size(); ++cut)
    EXPECT_THROW(dist::decode_step(std::span(msg).first(cut)), Error) << "cut at " << cut;
  std::vector<int64_t> longer = msg;
  longer.push_back(0);
  EXPECT_THROW(dist::decode_step(longer), Error);
  EXPECT_THROW(dist::decode_step(broken(0, 7)), Error);             // no such operation
  EXPECT_THROW(dist::decode_step(broken(6, 99)), Error);            // no such cache format
  EXPECT_THROW(dist::decode_step(broken(7, int64_t{1} << 40)), Error);  // more tokens than values
  EXPECT_THROW(dist::decode_step(broken(8, -3)), Error);            // a negative token id
  EXPECT_THROW(dist::decode_step(broken(10, 1)), Error);            // a sequence count that does not fit the rest
}

TEST(Pipeline, StageNeedsALinkAndARange) {
  ThreadPool pool(1);
  const ModelConfig cfg = testing::tiny_llama(4, 4);
  EXPECT_THROW(build_model(cfg, std::make_unique<RandomWeights>(DType::F32, 1, pool), pool, {}, Stage{0, 1, nullptr}),
               Error);
  QueueLink link;
  EXPECT_THROW(build_model(cfg, std::make_unique<RandomWeights>(DType::F32, 1, pool), pool, {}, Stage{1, 1, &link}),
               Error);
  EXPECT_THROW(build_model(cfg, std::make_unique<RandomWeights>(DType::F32, 1, pool), pool, {}, Stage{0, 3, &link}),
               Error);
}

}  // namespace
}  // namespace mla
