// How the rows of a MoE layer travel under an expert split (docs/DISTRIBUTED.md), without MPI (the
// transport is src/dist/expert_split.cpp's, or a direct call in tests):
//   rank 0 runs the model and its share of the routed experts; after each MoE layer's router it
//   sends every other rank the rows routed to that rank's experts (ExpertDispatcher::dispatch), runs
//   its own experts and the shared ones meanwhile, then adds each rank's weighted sums back, in rank
//   order (combine);
//   the other ranks hold only their routed experts (ExpertShard) and answer each message of rows
//   with one row of sums per row. A rank none of whose experts a layer's rows chose gets no message.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "core/thread_pool.h"
#include "dist/expert_plan.h"
#include "model/config.h"
#include "model/model.h"
#include "model/routed_experts.h"
#include "model/weight_source.h"

namespace mla::dist {

// One message of rows for one rank: layer -1 (and no rows) tells it to stop.
struct ExpertRows {
  int64_t layer = -1;
  int64_t n = 0;                // rows
  std::vector<float> x;         // [n x hidden]: the layer's normalised input rows
  std::vector<int32_t> ids;     // [n x K]: the router's experts for each row (some held elsewhere)
  std::vector<float> weights;   // [n x K]
};

class ExpertTransport {
 public:
  virtual ~ExpertTransport() = default;
  // `rows` stays as it is until that rank's sums are received (a stop message: only its header
  // is read, at once), so the transport may send it without waiting.
  virtual void send_rows(int rank, const ExpertRows& rows) = 0;
  // rows.n rows of sums [n x hidden] from `rank`, for its last message of rows.
  virtual void recv_sums(int rank, float* sums, int64_t n) = 0;
};

// Rank 0's ExpertLink.
class ExpertDispatcher : public ExpertLink {
 public:
  ExpertDispatcher(std::vector<ExpertShare> plan, const ModelConfig& cfg, std::unique_ptr<ExpertTransport> transport);
  void dispatch(int64_t layer, const float* x, int64_t T, const int32_t* ids, const float* weights) override;
  void combine(float* out, int64_t T) override;
  // Between a dispatch and its combine the other ranks are busy with rows rank 0 still owes them a
  // wait for: an error then cannot be recovered from (the caller ends every rank).
  bool pending() const { return pending_; }
  // Tells every other rank to stop.
  void quit();

 private:
  std::vector<ExpertShare> plan_;
  int64_t hidden_, K_;
  std::unique_ptr<ExpertTransport> transport_;
  std::vector<ExpertRows> out_;             // [rank]: the last message sent to it
  std::vector<std::vector<int64_t>> rows_;  // [rank]: which of the T rows it got, in order
  std::vector<float> sums_;
  int64_t dispatched_rows_ = 0;
  bool pending_ = false;
};

// A rank that holds only routed experts: experts [begin, end) of every MoE layer.
class ExpertShard {
 public:
  ExpertShard(const ModelConfig& cfg, std::unique_ptr<WeightSource> weights, const ExpertShare& share,
              const LoadProgress& progress);
  // sums [rows.n x hidden]: for each row the weighted sum of the outputs of its experts held here.
  // mla::Error when the message does not fit the model (not a MoE layer, wrong sizes).
  void run(ThreadPool& pool, const ExpertRows& rows, float* sums);

 private:
  ModelConfig cfg_;
  std::unique_ptr<WeightSource> weights_;
  std::vector<std::unique_ptr<uint8_t[]>> realigned_;
  std::vector<RoutedExperts> layers_;  // [num_hidden_layers]; empty for dense layers
  RoutedScratch scratch_;
};

}  // namespace mla::dist
