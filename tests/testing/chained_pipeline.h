// A pipeline split by layers in one process, without MPI (docs/DISTRIBUTED.md): stages of one
// model chained through in-memory queues of hidden rows. chained_pipeline() gives rank 0's model
// (dist/pipeline_model.h) over them: every step is described, encoded and decoded as it would go
// to the other ranks, which run it on their mirrored caches (dist/pipeline_step.h). Several steps
// may be in flight (micro-batches): stage 0 has run them all, their rows wait in the queue, and the
// other stages run each in order when rank 0 asks for its logits.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "dist/pipeline_model.h"
#include "dist/pipeline_step.h"
#include "model/model.h"

namespace mla::testing {

// Rows from one stage to the next: a FIFO.
class QueueLink : public StageLink {
 public:
  void recv_hidden(float* x, int64_t n) override {
    ASSERT_FALSE(q_.empty());
    ASSERT_EQ(static_cast<int64_t>(q_.front().size()), n);
    std::copy(q_.front().begin(), q_.front().end(), x);
    q_.pop_front();
  }
  void send_hidden(const float* x, int64_t n) override { q_.emplace_back(x, x + n); }

 private:
  std::deque<std::vector<float>> q_;
};

// Stage s receives on the link into it and sends on the link out of it.
struct StageEnds : StageLink {
  QueueLink *in = nullptr, *out = nullptr;
  void recv_hidden(float* x, int64_t k) override { in->recv_hidden(x, k); }
  void send_hidden(const float* x, int64_t k) override { out->send_hidden(x, k); }
};

// Builds one stage of the model (the same weights for every stage).
using BuildStage = std::function<std::unique_ptr<Model>(const Stage&)>;

// The other "ranks": stages 1.. run each step after stage 0, in order, on their mirrored caches.
class ChainedStages : public dist::StepTransport {
 public:
  ChainedStages(const std::vector<int64_t>& cuts, const BuildStage& build) : links_(cuts.size() - 1) {
    for (size_t s = 0; s + 1 < cuts.size(); ++s) {
      ends_.push_back(std::make_unique<StageEnds>());
      ends_.back()->in = s > 0 ? &links_[s - 1] : nullptr;
      ends_.back()->out = &links_[s];
      if (s > 0) stages_.push_back(build(Stage{cuts[s], cuts[s + 1], ends_.back().get()}));
    }
    mirrors_.resize(stages_.size());
  }
  StageLink* first_link() { return ends_[0].get(); }

  void send_step(const dist::Step& step, float* logits) override {
    in_flight_.push_back({dist::decode_step(dist::encode_step(step)), logits});
  }
  void finish_step() override {
    ASSERT_FALSE(in_flight_.empty());
    const auto [step, logits] = std::move(in_flight_.front());
    in_flight_.pop_front();
    for (size_t s = 0; s < stages_.size(); ++s)
      mirrors_[s].run(*stages_[s], step, s + 1 == stages_.size() ? logits : nullptr);
  }
  void step_failed(const char*) override {}

 private:
  std::vector<QueueLink> links_;                 // links_[s]: out of stage s
  std::vector<std::unique_ptr<StageEnds>> ends_;  // outlive the stages that point at them
  std::vector<std::unique_ptr<Model>> stages_;    // stages 1..
  std::vector<dist::MirrorCache> mirrors_;
  std::deque<std::pair<dist::Step, float*>> in_flight_;  // sent, logits not yet asked for
};

// Rank 0's model of the stages [cuts[s], cuts[s + 1]); `micro_batches` 0: one per stage, as mla's
// default is one per rank.
inline std::unique_ptr<Model> chained_pipeline(const std::vector<int64_t>& cuts, const BuildStage& build,
                                               int64_t micro_batches = 0) {
  auto rest = std::make_unique<ChainedStages>(cuts, build);
  auto first = build(Stage{cuts[0], cuts[1], rest->first_link()});
  const int64_t groups = micro_batches ? micro_batches : static_cast<int64_t>(cuts.size()) - 1;
  return dist::make_pipeline_model(std::move(first), std::move(rest), groups);
}

}  // namespace mla::testing
