#include "dist/expert_split.h"

#include <array>
#include <cstdio>
#include <exception>
#include <vector>

#include "core/error.h"
#include "dist/expert_exchange.h"
#include "dist/expert_plan.h"
#include "dist/mpi.h"

namespace mla::dist {
namespace {

enum Tag : int { kTagRowsHeader = 11, kTagRows = 12, kTagSums = 13 };

// A message of rows: {layer, n}, then if n > 0 the rows, their expert ids and weights. Posted
// without waiting, so that every rank gets its rows at once rather than one after the other.
class MpiExpertTransport : public ExpertTransport {
 public:
  MpiExpertTransport(int n_ranks, int64_t hidden) : hidden_(hidden), headers_(n_ranks), sending_(n_ranks) {}
  void send_rows(int rank, const ExpertRows& m) override {
    std::vector<Request>& sends = sending_[rank];
    sends.clear();  // the last message's sends are done (their sums came back): nothing waits here
    headers_[rank] = {m.layer, m.n};
    sends.push_back(isend_bytes(headers_[rank].data(), sizeof(int64_t) * 2, rank, kTagRowsHeader));
    if (m.n == 0) return;
    sends.push_back(isend_bytes(m.x.data(), m.x.size() * sizeof(float), rank, kTagRows));
    sends.push_back(isend_bytes(m.ids.data(), m.ids.size() * sizeof(int32_t), rank, kTagRows));
    sends.push_back(isend_bytes(m.weights.data(), m.weights.size() * sizeof(float), rank, kTagRows));
  }
  void recv_sums(int rank, float* sums, int64_t n) override { recv_floats(sums, n * hidden_, rank, kTagSums); }

 private:
  int64_t hidden_;
  std::vector<std::array<int64_t, 2>> headers_;  // [rank]: the header in flight
  std::vector<std::vector<Request>> sending_;    // [rank]: destroying a Request waits for it
};

// Ranks 1..N-1: answer rank 0's rows until it says stop.
void serve_experts(ExpertShard& shard, const ModelConfig& cfg, ThreadPool& pool) {
  const int64_t D = cfg.hidden_size, K = cfg.num_experts_per_tok;
  ExpertRows m;
  std::vector<float> sums;
  for (;;) {
    int64_t header[2] = {0, 0};
    recv_bytes(header, sizeof header, 0, kTagRowsHeader);
    m.layer = header[0];
    m.n = header[1];
    if (m.layer < 0) return;
    if (m.n <= 0 || m.n > (int64_t{1} << 24)) fail("expert split: rank 0 announced ", m.n, " rows");
    m.x.resize(m.n * D);
    m.ids.resize(m.n * K);
    m.weights.resize(m.n * K);
    recv_floats(m.x.data(), m.n * D, 0, kTagRows);
    recv_bytes(m.ids.data(), m.ids.size() * sizeof(int32_t), 0, kTagRows);
    recv_floats(m.weights.data(), m.n * K, 0, kTagRows);
    sums.resize(m.n * D);
    shard.run(pool, m, sums.data());
    send_floats(sums.data(), m.n * D, 0, kTagSums);
  }
}

// Rank 0's model: the whole model but the other ranks' experts. A failure while the other ranks
// work on its rows ends every rank (they would wait for rows that never come); one before any rows
// left (a token id out of range, a full context) is an ordinary error.
class ExpertSplitModel : public Model {
 public:
  ExpertSplitModel(std::unique_ptr<ExpertDispatcher> link, std::unique_ptr<Model> model)
      : link_(std::move(link)), model_(std::move(model)) {
    stage_ = model_->stage();
  }
  ~ExpertSplitModel() override {
    if (std::uncaught_exceptions() > 0) return;  // the error path ends every rank
    try {
      link_->quit();
    } catch (const std::exception&) {
    }
  }

  const ModelConfig& config() const override { return model_->config(); }
  const ParamCounts& params() const override { return model_->params(); }  // rank 0's part only
  int64_t cache_row_width() const override { return model_->cache_row_width(); }
  AttnMode resolve_attn(AttnMode mode, int64_t T, int64_t p0) const override {
    return model_->resolve_attn(mode, T, p0);
  }
  void forward(std::span<const int32_t> tokens, KvCache& cache, AttnMode mode, bool all_logits,
               float* logits) override {
    guarded([&] { model_->forward(tokens, cache, mode, all_logits, logits); });
  }
  void decode_batch(std::span<const int32_t> tokens, std::span<KvCache* const> caches, AttnMode mode,
                    float* logits) override {
    guarded([&] { model_->decode_batch(tokens, caches, mode, logits); });
  }

 private:
  template <class Run>
  void guarded(Run run) {
    try {
      run();
    } catch (const std::exception& e) {
      if (link_->pending()) fail_all_ranks(e.what());
      throw;
    }
    attention_seconds_ = model_->attention_seconds();
  }

  std::unique_ptr<ExpertDispatcher> link_;  // outlives model_, which points at it
  std::unique_ptr<Model> model_;
};

}  // namespace

std::unique_ptr<Model> open_expert_split(const std::string& path, ThreadPool& pool, const LoadOptions& opts) {
  if (!built_with_mpi()) fail("--split experts needs MPI, and this mla was built without it");
  const World& w = world();
  if (w.size < 2) fail("--split experts: mla runs as one process; start it with mpirun -np N (N >= 2)");
  // Rank 0 plans and tells the others their experts: an error in the plan is one message.
  std::vector<int64_t> ranges(2 * w.size);
  std::vector<ExpertShare> plan;
  if (w.rank == 0) {
    const ModelConfig cfg = load_model_config(path);
    plan = balance_experts(model_weight_bytes(path, cfg), cfg, w.size);
    std::fprintf(stderr, "expert split over %d ranks:\n%s", w.size,
                 format_expert_plan(plan, cfg, kv::CacheDtype::F32).c_str());
    for (int r = 0; r < w.size; ++r) ranges[2 * r] = plan[r].expert_begin, ranges[2 * r + 1] = plan[r].expert_end;
  }
  bcast(ranges.data(), ranges.size() * sizeof(int64_t), 0);

  OpenedWeights opened = open_weights(path, pool, opts);
  if (w.rank > 0) {
    const ModelConfig cfg = opened.cfg;
    ExpertShard shard(cfg, std::move(opened.weights), {ranges[2 * w.rank], ranges[2 * w.rank + 1], 0}, opts.progress);
    serve_experts(shard, cfg, pool);
    return nullptr;
  }
  auto link = std::make_unique<ExpertDispatcher>(plan, opened.cfg,
                                                 std::make_unique<MpiExpertTransport>(w.size, opened.cfg.hidden_size));
  Stage stage;
  stage.expert_begin = plan[0].expert_begin;
  stage.expert_end = plan[0].expert_end;
  stage.experts = link.get();
  auto model = build_model(opened.cfg, std::move(opened.weights), pool, opts.progress, stage);
  return std::make_unique<ExpertSplitModel>(std::move(link), std::move(model));
}

}  // namespace mla::dist
