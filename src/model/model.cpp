#include "model/model.h"

#include <filesystem>

#include "core/error.h"
#include "model/checkpoint.h"
#include "model/converted_weights.h"
#include "model/deepseek2.h"
#include "model/llama.h"

namespace mla {

std::unique_ptr<Model> build_model(const ModelConfig& cfg, std::unique_ptr<WeightSource> weights, ThreadPool& pool,
                                   const LoadProgress& progress) {
  if (cfg.architecture == "DeepseekV2ForCausalLM" || cfg.architecture == "DeepseekV3ForCausalLM")
    return std::make_unique<DeepseekModel>(cfg, std::move(weights), pool, progress);
  if (cfg.is_llama()) return std::make_unique<LlamaModel>(cfg, std::move(weights), pool, progress);
  fail("unsupported architecture '", cfg.architecture, "'");
}

std::unique_ptr<Model> load_model(const std::string& dir, ThreadPool& pool, const LoadOptions& opts) {
  if (!std::filesystem::is_directory(dir)) fail(dir, ": model directory does not exist");
  ModelConfig cfg = load_config(dir + "/config.json");
  std::unique_ptr<WeightSource> weights = std::make_unique<Checkpoint>(dir);
  if (opts.convert) weights = std::make_unique<ConvertedWeights>(std::move(weights), *opts.convert, pool);
  return build_model(cfg, std::move(weights), pool, opts.progress);
}

}  // namespace mla
