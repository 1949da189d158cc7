#include "model/model.h"

#include <filesystem>

#include "core/error.h"
#include "model/checkpoint.h"
#include "model/converted_weights.h"
#include "model/deepseek2.h"
#include "model/gguf_config.h"
#include "model/gguf_weights.h"
#include "model/llama.h"
#include "model/quant_presets.h"

namespace mla {

Stage Stage::resolved(int64_t n_layers, int64_t n_experts) const {
  Stage s = *this;
  if (s.layer_end < 0) s.layer_end = n_layers;
  if (s.layer_begin < 0 || s.layer_begin >= s.layer_end || s.layer_end > n_layers)
    fail("stage layers ", s.layer_begin, "-", s.layer_end - 1, " are not a non-empty range of the model's ", n_layers,
         " layers");
  if ((!s.first() || !s.last(n_layers)) && !s.link) fail("a pipeline stage needs a link to its neighbours");
  if (s.experts && n_experts == 0) fail("an expert split needs a model with routed experts (MoE layers)");
  if (s.expert_end < 0) s.expert_end = n_experts;
  if (s.expert_begin < 0 || s.expert_begin > s.expert_end || s.expert_end > n_experts)
    fail("experts ", s.expert_begin, "-", s.expert_end - 1, " are not a range of the model's ", n_experts,
         " routed experts");
  if ((s.expert_begin > 0 || s.expert_end < n_experts) && !s.experts)
    fail("an expert split needs a link to the ranks holding the other experts");
  return s;
}

std::unique_ptr<Model> build_model(const ModelConfig& cfg, std::unique_ptr<WeightSource> weights, ThreadPool& pool,
                                   const LoadProgress& progress, const Stage& stage) {
  if (cfg.architecture == "DeepseekV2ForCausalLM" || cfg.architecture == "DeepseekV3ForCausalLM")
    return std::make_unique<DeepseekModel>(cfg, std::move(weights), pool, progress, stage);
  if (cfg.is_llama()) return std::make_unique<LlamaModel>(cfg, std::move(weights), pool, progress, stage);
  fail("unsupported architecture '", cfg.architecture, "'");
}

OpenedWeights open_weights(const std::string& path, ThreadPool& pool, const LoadOptions& opts) {
  std::error_code ec;
  OpenedWeights w;
  if (std::filesystem::is_regular_file(path, ec)) {  // GgufFile rejects anything else by its magic
    auto file = std::make_unique<GgufFile>(path);
    w.cfg = gguf_config(*file);
    w.weights = std::make_unique<GgufWeights>(std::move(file), w.cfg);
  } else if (std::filesystem::is_directory(path, ec)) {
    w.cfg = load_config(path + "/config.json");
    w.weights = std::make_unique<Checkpoint>(path);
  } else {
    fail(path, ": model directory or GGUF file does not exist");
  }
  if (opts.convert_mix) {
    const QuantChoice choice = *opts.convert_mix;
    const QuantModelShape shape = quant_model_shape(w.cfg);
    w.weights = std::make_unique<ConvertedWeights>(
        std::move(w.weights),
        [choice, shape](const TensorView& t) { return choose_weight_type(choice, shape, t.name, t.shape[1]); }, pool);
  } else if (opts.convert) {
    w.weights = std::make_unique<ConvertedWeights>(std::move(w.weights), *opts.convert, pool);
  }
  return w;
}

std::unique_ptr<Model> load_model(const std::string& path, ThreadPool& pool, const LoadOptions& opts,
                                  const Stage& stage) {
  OpenedWeights w = open_weights(path, pool, opts);
  return build_model(w.cfg, std::move(w.weights), pool, opts.progress, stage);
}

ModelConfig load_model_config(const std::string& path) {
  if (is_gguf_file(path)) return gguf_config(GgufFile(path));
  std::error_code ec;
  return load_config(std::filesystem::is_directory(path, ec) ? path + "/config.json" : path);
}

}  // namespace mla
