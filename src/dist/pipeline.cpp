#include "dist/pipeline.h"

#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "dist/mpi.h"
#include "dist/outbox.h"
#include "dist/pipeline_model.h"
#include "dist/pipeline_plan.h"
#include "dist/pipeline_step.h"

namespace mla::dist {
namespace {

enum Tag : int { kTagHidden = 1, kTagLogits = 2, kTagStep = 3 };

// Messages a stage may leave waiting for a busy next rank (outbox.h): enough for the groups of a
// decode step to go on without waiting at any --micro-batches, since a rank that keeps up takes
// each before the next one comes.
constexpr size_t kMaxInFlight = 4;

std::span<const std::byte> bytes_of(const float* x, int64_t n) {
  return std::as_bytes(std::span(x, static_cast<size_t>(n)));
}

// Steps travel point to point (the encoded int64 values, pipeline_step.h), not as a broadcast: a
// collective could not complete while a rank is still computing the step before, and rank 0 sends
// the next micro-batch's step exactly then.
Step recv_step() {
  const std::vector<std::byte> msg = recv_message(0, kTagStep);
  if (msg.size() % sizeof(int64_t) != 0) fail("pipeline: a step message of ", msg.size(), " bytes");
  std::vector<int64_t> values(msg.size() / sizeof(int64_t));
  std::memcpy(values.data(), msg.data(), msg.size());
  return decode_step(values);
}

// Hidden rows from the rank before, and on to the rank after without waiting for it.
class MpiLink : public StageLink {
 public:
  explicit MpiLink(int rank) : rank_(rank), next_(rank + 1, kTagHidden, kMaxInFlight) {}
  void recv_hidden(float* x, int64_t n) override { recv_floats(x, n, rank_ - 1, kTagHidden); }
  void send_hidden(const float* x, int64_t n) override { next_.send(bytes_of(x, n)); }

 private:
  int rank_;
  Outbox next_;
};

// Rank 0's steps over MPI: to every rank, the logits from the last one. Each step's receive of its
// logits is posted when the step is sent, so the last rank's send finds it waiting.
class MpiTransport : public StepTransport {
 public:
  MpiTransport(std::unique_ptr<MpiLink> link, int n_ranks, int64_t vocab_size)
      : link_(std::move(link)), last_rank_(n_ranks - 1), vocab_size_(vocab_size) {
    for (int r = 1; r < n_ranks; ++r) steps_.emplace_back(r, kTagStep, kMaxInFlight);
  }
  void send_step(const Step& step, float* logits) override {
    const std::vector<int64_t> msg = encode_step(step);
    if (msg.size() * sizeof(int64_t) > kMaxStepBytes)
      fail("pipeline: a step of ", msg.size() * sizeof(int64_t), " bytes (at most ", kMaxStepBytes, ")");
    for (Outbox& to : steps_) to.send(std::as_bytes(std::span(msg)));
    const int64_t n = logits ? step_logits(step, vocab_size_) : 0;
    logits_.push_back(n ? irecv_bytes(logits, n * sizeof(float), last_rank_, kTagLogits) : Request());
  }
  void finish_step() override {
    logits_.front().wait();
    logits_.pop_front();
  }
  [[noreturn]] void step_failed(const char* what) override { fail_all_ranks(what); }

 private:
  static constexpr size_t kMaxStepBytes = size_t{1} << 30;  // recv_message's limit
  std::unique_ptr<MpiLink> link_;  // the first stage sends its rows through it
  std::deque<Outbox> steps_;       // to ranks 1..N-1 (a deque: Outbox stays in place)
  std::deque<Request> logits_;     // of the steps in flight, oldest first
  int last_rank_;
  int64_t vocab_size_;
};

// Ranks 1..N-1: run each step rank 0 sends through this stage until it says quit. The last rank
// sends the logits back without waiting for rank 0 to take them.
void serve_stage(Model& model, int rank, int n_ranks) {
  MirrorCache cache;
  std::vector<float> logits;
  const bool last = rank == n_ranks - 1;
  Outbox to_rank0(0, kTagLogits, kMaxInFlight);
  for (;;) {
    const Step step = recv_step();
    if (step.op == StepOp::Quit) return;
    const int64_t n_logits = last ? step_logits(step, model.config().vocab_size) : 0;
    logits.resize(static_cast<size_t>(n_logits));
    cache.run(model, step, n_logits ? logits.data() : nullptr);
    if (n_logits) to_rank0.send(bytes_of(logits.data(), n_logits));
  }
}

}  // namespace

std::unique_ptr<Model> open_pipeline(const std::string& path, ThreadPool& pool, const LoadOptions& opts,
                                     const std::string& split_layers, int64_t micro_batches) {
  const std::string flag = !split_layers.empty() ? "--split-layers '" + split_layers + "'"
                                                 : "--micro-batches " + std::to_string(micro_batches);
  if (!built_with_mpi()) {
    if (!split_layers.empty() || micro_batches != 0)
      fail(flag, ": this mla was built without MPI (install libopenmpi-dev, rebuild; docs/DISTRIBUTED.md)");
    fail("a pipeline split needs MPI, and this mla was built without it");
  }
  const World& w = world();
  if (w.size < 2) fail(flag, ": mla runs as one process; start it with mpirun -np N, one rank per stage");
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
    return make_pipeline_model(std::move(stage), std::make_unique<MpiTransport>(std::move(link), w.size, vocab_size),
                               micro_batches ? micro_batches : 1);
  }
  serve_stage(*stage, w.rank, w.size);
  return nullptr;
}

}  // namespace mla::dist
