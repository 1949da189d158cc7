#include "dist/pipeline.h"

#include <cstdio>
#include <exception>
#include <vector>

#include "core/error.h"
#include "dist/mpi.h"
#include "dist/pipeline_model.h"
#include "dist/pipeline_plan.h"
#include "dist/pipeline_step.h"

namespace mla::dist {
namespace {

enum Tag : int { kTagHidden = 1, kTagLogits = 2 };

// A step goes to every rank as its length, then its values (pipeline_step.h).
void bcast_step(const Step& step) {
  std::vector<int64_t> msg = encode_step(step);
  int64_t n = static_cast<int64_t>(msg.size());
  bcast(&n, sizeof n, 0);
  bcast(msg.data(), msg.size() * sizeof(int64_t), 0);
}

Step recv_step() {
  int64_t n = 0;
  bcast(&n, sizeof n, 0);
  if (n < 0) fail("pipeline: rank 0 announced a step of ", n, " values");
  std::vector<int64_t> msg(static_cast<size_t>(n));
  bcast(msg.data(), msg.size() * sizeof(int64_t), 0);
  return decode_step(msg);
}

// Hidden rows to and from the neighbouring ranks.
class MpiLink : public StageLink {
 public:
  explicit MpiLink(int rank) : rank_(rank) {}
  void recv_hidden(float* x, int64_t n) override { recv_floats(x, n, rank_ - 1, kTagHidden); }
  void send_hidden(const float* x, int64_t n) override { send_floats(x, n, rank_ + 1, kTagHidden); }

 private:
  int rank_;
};

// Rank 0's steps over MPI: broadcast to every rank, the logits from the last one.
class MpiTransport : public StepTransport {
 public:
  MpiTransport(std::unique_ptr<MpiLink> link, int n_ranks, int64_t vocab_size)
      : link_(std::move(link)), last_rank_(n_ranks - 1), vocab_size_(vocab_size) {}
  void send_step(const Step& step) override { bcast_step(step); }
  void finish_step(const Step& step, float* logits) override {
    if (const int64_t n = step_logits(step, vocab_size_)) recv_floats(logits, n, last_rank_, kTagLogits);
  }
  [[noreturn]] void step_failed(const char* what) override { fail_all_ranks(what); }

 private:
  std::unique_ptr<MpiLink> link_;  // the first stage sends its rows through it
  int last_rank_;
  int64_t vocab_size_;
};

// Ranks 1..N-1: run each step rank 0 broadcasts through this stage until it says quit.
void serve_stage(Model& model, int rank, int n_ranks) {
  MirrorCache cache;
  std::vector<float> logits;
  const bool last = rank == n_ranks - 1;
  for (;;) {
    const Step step = recv_step();
    if (step.op == StepOp::Quit) return;
    const int64_t n_logits = last ? step_logits(step, model.config().vocab_size) : 0;
    logits.resize(static_cast<size_t>(n_logits));
    cache.run(model, step, n_logits ? logits.data() : nullptr);
    if (n_logits) send_floats(logits.data(), n_logits, 0, kTagLogits);
  }
}

}  // namespace

std::unique_ptr<Model> open_pipeline(const std::string& path, ThreadPool& pool, const LoadOptions& opts,
                                     const std::string& split_layers) {
  if (!built_with_mpi()) {
    if (!split_layers.empty())
      fail("--split-layers: this mla was built without MPI (install libopenmpi-dev, rebuild; docs/DISTRIBUTED.md)");
    fail("a pipeline split needs MPI, and this mla was built without it");
  }
  const World& w = world();
  if (w.size < 2)
    fail("--split-layers '", split_layers, "': mla runs as one process; start it with mpirun -np N, one rank per stage");
  // Rank 0 plans and tells the others their layers: an error in the plan (a bad --split-layers)
  // is then one message from one rank, and the other ranks read no tensor headers for it.
  std::vector<int64_t> ranges(2 * w.size);
  if (w.rank == 0) {
    const ModelConfig cfg = load_model_config(path);
    const ModelBytes bytes = model_weight_bytes(path, cfg);
    const std::vector<StagePlan> plan =
        split_layers.empty() ? balance_layers(bytes, w.size) : parse_split_layers(split_layers, bytes, w.size);
    std::fprintf(stderr, "pipeline over %d ranks:\n%s", w.size, format_plan(plan, cfg, kv::CacheDtype::F32).c_str());
    for (int r = 0; r < w.size; ++r) ranges[2 * r] = plan[r].layer_begin, ranges[2 * r + 1] = plan[r].layer_end;
  }
  bcast(ranges.data(), ranges.size() * sizeof(int64_t), 0);

  auto link = std::make_unique<MpiLink>(w.rank);
  const Stage mine{ranges[2 * w.rank], ranges[2 * w.rank + 1], link.get()};
  std::unique_ptr<Model> stage = load_model(path, pool, opts, mine);
  if (w.rank == 0) {
    const int64_t vocab_size = stage->config().vocab_size;
    return make_pipeline_model(std::move(stage), std::make_unique<MpiTransport>(std::move(link), w.size, vocab_size));
  }
  serve_stage(*stage, w.rank, w.size);
  return nullptr;
}

}  // namespace mla::dist
