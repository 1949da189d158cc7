#include "dist/pipeline_model.h"

#include <exception>

namespace mla::dist {
namespace {

class PipelineModel : public Model {
 public:
  PipelineModel(std::unique_ptr<Model> first, std::unique_ptr<StepTransport> transport)
      : transport_(std::move(transport)), first_(std::move(first)) {
    stage_ = first_->stage();
  }
  ~PipelineModel() override {
    if (std::uncaught_exceptions() > 0) return;  // the error path ends every rank (step_failed)
    try {
      transport_->send_step(quit_step());
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
    run(describe_forward(tokens, cache, mode, all_logits, logits != nullptr), logits,
        [&] { first_->forward(tokens, cache, mode, all_logits, nullptr); });
  }

  void decode_batch(std::span<const int32_t> tokens, std::span<KvCache* const> caches, AttnMode mode,
                    float* logits) override {
    run(describe_decode(tokens, caches, mode), logits, [&] { first_->decode_batch(tokens, caches, mode, nullptr); });
  }

 private:
  // `step` is described before anything runs (its positions are the caches' before the step); an
  // error in describing it has sent nothing, and is an ordinary error.
  template <class RunFirst>
  void run(const Step& step, float* logits, RunFirst run_first) {
    try {
      transport_->send_step(step);
      run_first();
      transport_->finish_step(step, logits);
    } catch (const std::exception& e) {
      transport_->step_failed(e.what());
      throw;
    }
  }

  std::unique_ptr<StepTransport> transport_;  // outlives first_, whose link it may own
  std::unique_ptr<Model> first_;
};

}  // namespace

std::unique_ptr<Model> make_pipeline_model(std::unique_ptr<Model> first, std::unique_ptr<StepTransport> transport) {
  return std::make_unique<PipelineModel>(std::move(first), std::move(transport));
}

}  // namespace mla::dist
