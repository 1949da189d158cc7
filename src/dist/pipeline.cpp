#include "dist/pipeline.h"

#include <cstdio>
#include <exception>
#include <optional>
#include <vector>

#include "core/error.h"
#include "dist/mpi.h"
#include "dist/pipeline_plan.h"

namespace mla::dist {
namespace {

enum Tag : int { kTagHidden = 1, kTagLogits = 2 };
enum Op : int64_t { kQuit = 0, kForward = 1 };

// One step, broadcast by rank 0 before the tokens.
struct Command {
  int64_t op = kQuit;
  int64_t n_tokens = 0;       // T
  int64_t all_logits = 0;
  int64_t want_logits = 0;    // rank 0 asked for logits (else none are sent back)
  int64_t mode = 0;           // AttnMode
  int64_t position = 0;       // the cache's n_tokens before the step (rank 0 may have rewound it)
  int64_t cache_tokens = 0;   // the cache's capacity ...
  int64_t cache_dtype = 0;    // ... and element type: a worker rebuilds its cache when they change
};

// Hidden rows to and from the neighbouring ranks.
class MpiLink : public StageLink {
 public:
  explicit MpiLink(int rank) : rank_(rank) {}
  void recv_hidden(float* x, int64_t n) override { recv_floats(x, n, rank_ - 1, kTagHidden); }
  void send_hidden(const float* x, int64_t n) override { send_floats(x, n, rank_ + 1, kTagHidden); }

 private:
  int rank_;
};

// Rank 0's view: the first stage, plus the broadcast of each step and the logits coming back.
class PipelineModel : public Model {
 public:
  PipelineModel(std::unique_ptr<MpiLink> link, std::unique_ptr<Model> first, int n_ranks)
      : link_(std::move(link)), first_(std::move(first)), last_rank_(n_ranks - 1) {
    stage_ = first_->stage();
  }
  ~PipelineModel() override {
    if (std::uncaught_exceptions() > 0) return;  // the error path ends every rank with MPI_Abort
    try {
      Command quit;
      bcast(&quit, sizeof quit, 0);
    } catch (const std::exception&) {
    }
  }

  const ModelConfig& config() const override { return first_->config(); }
  const ParamCounts& params() const override { return first_->params(); }  // rank 0's stage only
  int64_t cache_row_width() const override { return first_->cache_row_width(); }
  AttnMode resolve_attn(AttnMode mode, int64_t T, int64_t p0) const override {
    return first_->resolve_attn(mode, T, p0);
  }

  void forward(std::span<const int32_t> tokens, KvCache& cache, AttnMode mode, bool all_logits,
               float* logits) override {
    const int64_t T = static_cast<int64_t>(tokens.size());
    Command c{kForward,
              T,
              all_logits,
              logits != nullptr,
              static_cast<int64_t>(mode),
              cache.n_tokens(),
              cache.max_tokens(),
              static_cast<int64_t>(cache.dtype())};
    bcast(&c, sizeof c, 0);
    std::vector<int32_t> ids(tokens.begin(), tokens.end());
    bcast(ids.data(), ids.size() * sizeof(int32_t), 0);
    first_->forward(tokens, cache, mode, all_logits, nullptr);
    if (logits) recv_floats(logits, (all_logits ? T : 1) * config().vocab_size, last_rank_, kTagLogits);
  }

  void decode_batch(std::span<const int32_t>, std::span<KvCache* const>, AttnMode, float*) override {
    fail("batched decoding (mla serve) does not run across MPI ranks yet (docs/DISTRIBUTED.md)");
  }

 private:
  std::unique_ptr<MpiLink> link_;  // outlives first_, which holds a pointer to it
  std::unique_ptr<Model> first_;
  int last_rank_;
};

// Ranks 1..N-1: run each step rank 0 broadcasts through this stage until it says quit.
void serve_stage(Model& model, int rank, int n_ranks) {
  std::optional<KvCache> cache;
  std::vector<int32_t> tokens;
  std::vector<float> logits;
  const int64_t V = model.config().vocab_size;
  for (;;) {
    Command c;
    bcast(&c, sizeof c, 0);
    if (c.op == kQuit) return;
    tokens.resize(c.n_tokens);
    bcast(tokens.data(), tokens.size() * sizeof(int32_t), 0);
    const auto dtype = static_cast<kv::CacheDtype>(c.cache_dtype);
    if (!cache || cache->max_tokens() != c.cache_tokens || cache->dtype() != dtype)
      cache.emplace(model.make_cache(c.cache_tokens, dtype));
    cache->set_n_tokens(c.position);
    float* out = nullptr;
    const int64_t n_logits = (c.all_logits ? c.n_tokens : 1) * V;
    if (rank == n_ranks - 1 && c.want_logits) {
      logits.resize(n_logits);
      out = logits.data();
    }
    model.forward(tokens, *cache, static_cast<AttnMode>(c.mode), c.all_logits != 0, out);
    if (out) send_floats(out, n_logits, 0, kTagLogits);
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
  if (w.rank == 0) return std::make_unique<PipelineModel>(std::move(link), std::move(stage), w.size);
  serve_stage(*stage, w.rank, w.size);
  return nullptr;
}

}  // namespace mla::dist
