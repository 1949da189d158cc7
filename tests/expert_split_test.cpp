// The expert split (docs/DISTRIBUTED.md) without MPI: the plan that balances weight bytes (checked
// against every choice of rank 0's share), and the model seam itself: rank 0's model with a share of
// the routed experts, its rows carried to ExpertShards of the other ranks' experts by a direct call
// instead of MPI, gives the logits of the whole model, prefill and decode (one and several
// sequences), both MLA paths, V2-Lite (softmax) and V3 (sigmoid, groups) routing.
#include "dist/expert_plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/error.h"
#include "dist/expert_exchange.h"
#include "model/model.h"
#include "model/random_weights.h"
#include "testing/max_abs.h"
#include "testing/tiny_models.h"

namespace mla {
namespace {

using testing::max_abs;
using testing::max_abs_diff;

using dist::balance_experts;
using dist::ExpertShare;
using dist::ModelBytes;

ModelBytes moe_bytes(uint64_t rest_per_layer, uint64_t experts_per_layer, int layers, uint64_t embed, uint64_t head) {
  ModelBytes b;
  b.layer.assign(layers, rest_per_layer + experts_per_layer);
  b.routed_experts = experts_per_layer * layers;
  b.embed = embed;
  b.head = head;
  return b;
}

TEST(ExpertPlan, BalancesWeightBytes) {
  ModelConfig cfg = testing::tiny_deepseek_v3();
  for (int64_t E : {8, 13, 64}) {
    cfg.n_routed_experts = E;
    for (uint64_t rest : {0u, 100u, 5000u})
      for (int n = 2; n <= 5 && n - 1 <= E; ++n) {
        const ModelBytes b = moe_bytes(rest, 64 * E, 3, 700, 900);
        const std::vector<ExpertShare> plan = balance_experts(b, cfg, n);
        ASSERT_EQ(static_cast<int>(plan.size()), n);
        int64_t next = 0;
        uint64_t largest = 0, total = 0;
        for (const ExpertShare& s : plan) {
          EXPECT_EQ(s.expert_begin, next);
          next = s.expert_end;
          largest = std::max(largest, s.weight_bytes);
          total += s.weight_bytes;
        }
        EXPECT_EQ(next, E);
        EXPECT_EQ(total, std::accumulate(b.layer.begin(), b.layer.end(), b.embed + b.head));
        for (int r = 1; r < n; ++r) EXPECT_GE(plan[r].expert_end - plan[r].expert_begin, 1);
        // Against every share rank 0 could take, the others splitting the rest evenly.
        const uint64_t per = 64 * 3, others_rest = b.embed + b.head + 3 * rest;
        uint64_t best = UINT64_MAX;
        for (int64_t c = 0; c <= E - (n - 1); ++c) {
          const int64_t most = (E - c + n - 2) / (n - 1);
          best = std::min(best, std::max(others_rest + per * c, per * most));
        }
        EXPECT_EQ(largest, best) << "E=" << E << " rest=" << rest << " n=" << n;
      }
  }
  EXPECT_THROW(balance_experts(moe_bytes(10, 64 * 8, 2, 1, 1), cfg, 1), Error);
  cfg.n_routed_experts = 2;
  EXPECT_THROW(balance_experts(moe_bytes(10, 64 * 2, 2, 1, 1), cfg, 4), Error);  // 2 experts, 3 ranks
  ModelConfig llama = testing::tiny_llama(4, 2);
  EXPECT_THROW(balance_experts(moe_bytes(10, 0, 2, 1, 1), llama, 2), Error);
}

// The other ranks, in this process: each message of rows is answered by its shard at once.
class DirectTransport : public dist::ExpertTransport {
 public:
  DirectTransport(std::vector<std::unique_ptr<dist::ExpertShard>> shards, ThreadPool& pool)
      : shards_(std::move(shards)), pool_(pool), sums_(shards_.size()) {}
  void send_rows(int rank, const dist::ExpertRows& rows) override {
    ASSERT_GE(rank, 1);
    ASSERT_GT(rows.n, 0);  // ranks without rows get no message
    sums_[rank - 1].resize(rows.x.size());
    shards_[rank - 1]->run(pool_, rows, sums_[rank - 1].data());
  }
  void recv_sums(int rank, float* sums, int64_t n) override {
    ASSERT_EQ(static_cast<int64_t>(sums_[rank - 1].size()) % n, 0);
    std::copy(sums_[rank - 1].begin(), sums_[rank - 1].end(), sums);
  }

 private:
  std::vector<std::unique_ptr<dist::ExpertShard>> shards_;
  ThreadPool& pool_;
  std::vector<std::vector<float>> sums_;
};

// The whole model against rank 0 holding experts [0, cuts[1]) and shards [cuts[r], cuts[r+1]).
void check_split(const ModelConfig& cfg, const std::vector<int64_t>& cuts, AttnMode mode) {
  ThreadPool pool(2);
  const int64_t V = cfg.vocab_size;
  auto weights = [&] { return std::make_unique<RandomWeights>(DType::F32, 5, pool); };
  auto whole = build_model(cfg, weights(), pool);

  std::vector<ExpertShare> plan;
  for (size_t r = 0; r + 1 < cuts.size(); ++r) plan.push_back({cuts[r], cuts[r + 1], 0});
  std::vector<std::unique_ptr<dist::ExpertShard>> shards;
  for (size_t r = 1; r < plan.size(); ++r) shards.push_back(std::make_unique<dist::ExpertShard>(cfg, weights(), plan[r], LoadProgress{}));
  dist::ExpertDispatcher link(plan, cfg, std::make_unique<DirectTransport>(std::move(shards), pool));
  Stage stage;
  stage.expert_begin = plan[0].expert_begin;
  stage.expert_end = plan[0].expert_end;
  stage.experts = &link;
  auto split = build_model(cfg, weights(), pool, {}, stage);

  // Prefill: every row's logits.
  const std::vector<int32_t> prompt = {3, 17, 5, 42, 8, 1, 29, 64, 12};
  KvCache wc = whole->make_cache(32), sc = split->make_cache(32);
  std::vector<float> want(prompt.size() * V), got(prompt.size() * V);
  whole->forward(prompt, wc, mode, true, want.data());
  split->forward(prompt, sc, mode, true, got.data());
  const float scale = max_abs(want);
  EXPECT_LE(max_abs_diff(got, want), 1e-5f * scale) << "prefill";
  // Decode: two sequences in one batch (the first continues the prompt).
  KvCache wc2 = whole->make_cache(32), sc2 = split->make_cache(32);
  std::vector<float> w2(V), g2(V);
  whole->forward({prompt.data(), 3}, wc2, mode, false, w2.data());
  split->forward({prompt.data(), 3}, sc2, mode, false, g2.data());
  for (int32_t t : {11, 4, 60}) {
    const std::vector<int32_t> tokens = {t, static_cast<int32_t>((t * 7) % V)};
    std::vector<KvCache*> wcs = {&wc, &wc2}, scs = {&sc, &sc2};
    std::vector<float> want_b(2 * V), got_b(2 * V);
    whole->decode_batch(tokens, wcs, mode, want_b.data());
    split->decode_batch(tokens, scs, mode, got_b.data());
    EXPECT_LE(max_abs_diff(got_b, want_b), 1e-5f * scale) << "decode token " << t;
  }
  EXPECT_FALSE(link.pending());
}

TEST(ExpertSplit, RanksEqualTheWholeModel) {
  ModelConfig v3 = testing::tiny_deepseek_v3();
  v3.num_hidden_layers = 3;
  ModelConfig v2 = v3;  // V2-Lite's routing: softmax, greedy top-k, no bias
  v2.architecture = "DeepseekV2ForCausalLM";
  v2.q_lora_rank.reset();
  v2.scoring_func = ScoringFunc::Softmax;
  v2.topk_method = TopkMethod::Greedy;
  v2.n_group = 1;
  v2.topk_group = 1;
  v2.norm_topk_prob = false;
  v2.routed_scaling_factor = 1.0;
  for (AttnMode mode : {AttnMode::Naive, AttnMode::Absorbed}) {
    check_split(v3, {0, 3, 8}, mode);
    check_split(v3, {0, 0, 5, 8}, mode);  // rank 0 with no routed experts
    check_split(v2, {0, 2, 4, 8}, mode);
  }
}

TEST(ExpertSplit, NeedsALinkAndARange) {
  ThreadPool pool(1);
  const ModelConfig v3 = testing::tiny_deepseek_v3();
  auto build = [&](const Stage& s) { return build_model(v3, std::make_unique<RandomWeights>(DType::F32, 1, pool), pool, {}, s); };
  Stage no_link;
  no_link.expert_end = 4;
  EXPECT_THROW(build(no_link), Error);
  dist::ExpertDispatcher link({{0, 4, 0}, {4, 8, 0}}, v3, nullptr);
  Stage past;
  past.expert_begin = 2, past.expert_end = 9, past.experts = &link;
  EXPECT_THROW(build(past), Error);
  const ModelConfig llama = testing::tiny_llama(4, 2);
  Stage on_llama;
  on_llama.experts = &link;
  EXPECT_THROW(build_model(llama, std::make_unique<RandomWeights>(DType::F32, 1, pool), pool, {}, on_llama), Error);
}

TEST(ExpertShard, RefusesMessagesThatDoNotFit) {
  ThreadPool pool(1);
  const ModelConfig v3 = testing::tiny_deepseek_v3();  // layer 0 dense, layer 1 MoE
  dist::ExpertShard shard(v3, std::make_unique<RandomWeights>(DType::F32, 1, pool), {4, 8, 0}, {});
  dist::ExpertRows rows;
  rows.layer = 1;
  rows.n = 1;
  rows.x.assign(v3.hidden_size, 0.5f);
  rows.ids = {5, 0};
  rows.weights = {0.7f, 0.3f};
  std::vector<float> sums(v3.hidden_size);
  EXPECT_NO_THROW(shard.run(pool, rows, sums.data()));
  EXPECT_GT(max_abs(sums), 0.0f);  // expert 5 is held here (expert 0 is not, and adds nothing)
  for (int64_t layer : {0, 2, -1}) {
    dist::ExpertRows bad = rows;
    bad.layer = layer;
    EXPECT_THROW(shard.run(pool, bad, sums.data()), Error) << "layer " << layer;
  }
  dist::ExpertRows short_ids = rows;
  short_ids.ids.pop_back();
  EXPECT_THROW(shard.run(pool, short_ids, sums.data()), Error);
}

}  // namespace
}  // namespace mla
