#include "dist/pipeline_model.h"

#include <exception>

#include "core/error.h"

namespace mla::dist {
namespace {

class PipelineModel : public Model {
 public:
  PipelineModel(std::unique_ptr<Model> first, std::unique_ptr<StepTransport> transport, int64_t micro_batches)
      : transport_(std::move(transport)), first_(std::move(first)), micro_batches_(micro_batches) {
    if (micro_batches < 1) fail("--micro-batches ", micro_batches, ": give 1 (off) or more");
    stage_ = first_->stage();
  }
  ~PipelineModel() override {
    if (std::uncaught_exceptions() > 0) return;  // the error path ends every rank (step_failed)
    try {
      transport_->send_step(quit_step(), nullptr);
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
    const Step step = describe_forward(tokens, cache, mode, all_logits, logits != nullptr);
    guarded([&] {
      transport_->send_step(step, logits);
      first_->forward(tokens, cache, mode, all_logits, nullptr);
      transport_->finish_step();
    });
  }

  // The groups' steps all go out before the first one's logits are awaited (pipeline_model.h).
  void decode_batch(std::span<const int32_t> tokens, std::span<KvCache* const> caches, AttnMode mode,
                    float* logits) override {
    const std::vector<Step> groups = split_decode(describe_decode(tokens, caches, mode), micro_batches_);
    const int64_t V = config().vocab_size;
    guarded([&] {
      size_t b0 = 0;
      for (const Step& g : groups) {
        const size_t n = g.seqs.size();
        transport_->send_step(g, logits ? logits + static_cast<int64_t>(b0) * V : nullptr);
        first_->decode_batch(tokens.subspan(b0, n), caches.subspan(b0, n), mode, nullptr);
        b0 += n;
      }
      for (size_t g = 0; g < groups.size(); ++g) transport_->finish_step();
    });
  }

 private:
  // Steps are described before anything runs (their positions are the caches' before the step);
  // an error in describing one has sent nothing, and is an ordinary error. Past that, an error
  // leaves the other ranks half-way through a step.
  template <class Run>
  void guarded(Run run) {
    try {
      run();
    } catch (const std::exception& e) {
      transport_->step_failed(e.what());
      throw;
    }
  }

  std::unique_ptr<StepTransport> transport_;  // outlives first_, whose link it may own
  std::unique_ptr<Model> first_;
  int64_t micro_batches_;
};

}  // namespace

std::unique_ptr<Model> make_pipeline_model(std::unique_ptr<Model> first, std::unique_ptr<StepTransport> transport,
                                           int64_t micro_batches) {
  return std::make_unique<PipelineModel>(std::move(first), std::move(transport), micro_batches);
}

}  // namespace mla::dist
