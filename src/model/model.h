// What every architecture offers the engine: a forward pass over a KV cache. DeepSeek (MLA) and
// Llama (MHA / GQA / MQA) models implement it, so generation, evaluation and benchmarks run them
// through the same code.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "core/thread_pool.h"
#include "kv/kv_cache.h"
#include "model/config.h"
#include "model/mla_attention.h"
#include "model/quant_presets.h"
#include "model/weight_source.h"

namespace mla {

struct ParamCounts {
  int64_t total = 0;   // every weight the forward pass uses
  int64_t active = 0;  // per token: total minus the routed experts a token does not visit
};

// Called while loading with (bytes done, bytes total).
using LoadProgress = std::function<void(size_t, size_t)>;

// Where a pipeline stage's hidden rows come from (the previous stage) and go (the next one):
// src/dist/ implements it over MPI. The model itself never knows how they travel.
class StageLink {
 public:
  virtual ~StageLink() = default;
  virtual void recv_hidden(float* x, int64_t n) = 0;        // n floats: [T x hidden]
  virtual void send_hidden(const float* x, int64_t n) = 0;
};

// Where the rows routed to experts this process does not hold go (an expert split,
// docs/DISTRIBUTED.md): src/dist/ implements it over MPI. Called once per MoE layer and chunk of rows,
// dispatch before this process runs its own experts and combine after, so the others work meanwhile.
class ExpertLink {
 public:
  virtual ~ExpertLink() = default;
  // The rows of MoE layer `layer` (absolute index) routed to experts held elsewhere, to where they
  // are: x [T x hidden] (the normalised input of the layer's experts), ids and weights
  // [T x num_experts_per_tok] (the router's choice).
  virtual void dispatch(int64_t layer, const float* x, int64_t T, const int32_t* ids, const float* weights) = 0;
  // out [T x hidden] += the weighted outputs of those experts, for the rows of the last dispatch.
  virtual void combine(float* out, int64_t T) = 0;
};

// The layers [layer_begin, layer_end) this process computes. The default is the whole model (one
// process: embedding, every layer, final norm and head). A pipeline stage (docs/DISTRIBUTED.md)
// binds only its own layers' weights, keeps the cache of those layers only (cache layer 0 is
// layer_begin), receives its input rows through `link` unless it starts at layer 0 and sends its
// output rows on unless it ends at the last layer, where the head turns them into logits.
struct Stage {
  int64_t layer_begin = 0, layer_end = -1;  // -1: num_hidden_layers
  StageLink* link = nullptr;                // needed unless the stage is the whole model
  // An expert split: the routed experts [expert_begin, expert_end) of every MoE layer are held and
  // run here (-1: all of them), the rest elsewhere through `experts`.
  int64_t expert_begin = 0, expert_end = -1;
  ExpertLink* experts = nullptr;            // needed unless every routed expert is held here

  // layer_end and expert_end filled in, checked against the model's layers and routed experts.
  Stage resolved(int64_t n_layers, int64_t n_experts = 0) const;
  bool first() const { return layer_begin == 0; }
  bool last(int64_t n_layers) const { return layer_end == n_layers; }
  int64_t n_layers() const { return layer_end - layer_begin; }
};

class Model {
 public:
  virtual ~Model() = default;

  virtual const ModelConfig& config() const = 0;
  virtual const ParamCounts& params() const = 0;
  // Values per token per layer in this model's cache rows (MLA: kv_lora_rank + rope; MHA/GQA/MQA:
  // 2 x n_head_kv x head_dim): what a KvBlockArena for this model is built with.
  virtual int64_t cache_row_width() const = 0;
  // A private cache for this model's attention with room for max_tokens tokens in `dtype`.
  // Under a pipeline split only this stage's layers.
  KvCache make_cache(int64_t max_tokens, kv::CacheDtype dtype = kv::CacheDtype::F32) const {
    return KvCache(stage_.n_layers(), cache_row_width(), max_tokens, dtype);
  }
  // The layers this model computes (all of them unless it is a pipeline stage).
  const Stage& stage() const { return stage_; }
  // Runs `tokens` at positions cache.n_tokens() ... and appends their keys/values to the cache.
  // logits: [T x vocab] when all_logits, else [vocab] for the last token. `mode` picks the MLA
  // attention path and is ignored by architectures without one.
  virtual void forward(std::span<const int32_t> tokens, KvCache& cache, AttnMode mode, bool all_logits,
                       float* logits) = 0;
  // One decoding step for B sequences at once: tokens[b] is appended to *caches[b] at its next
  // position. Every weight matrix is read once for the whole batch. logits: [B x vocab] (may be
  // null on a pipeline stage before the last, which has none).
  virtual void decode_batch(std::span<const int32_t> tokens, std::span<KvCache* const> caches, AttnMode mode,
                            float* logits) = 0;
  // The attention path `mode` takes for T queries at positions [p0, p0 + T) (Auto resolved; the
  // mode itself for architectures without a choice).
  virtual AttnMode resolve_attn(AttnMode mode, int64_t T, int64_t p0) const { return mode; }

  // Wall time spent in attention over the cache (for MLA including the W_UK / W_UV absorption or
  // the K/V re-expansion) since the last reset: the benchmark's attention share.
  double attention_seconds() const { return attention_seconds_; }
  void reset_attention_seconds() { attention_seconds_ = 0; }

 protected:
  double attention_seconds_ = 0;
  Stage stage_;  // resolved: layer_end set
};

// Rows [begin, begin + count) of a batch are consecutive tokens of one sequence, at positions
// cache->n_tokens() ... of its cache.
struct SeqRows {
  KvCache* cache;
  int64_t begin, count;
};

// Builds the model `cfg.architecture` names from the given weights.
// `stage`: the layers to bind and compute (default: all).
std::unique_ptr<Model> build_model(const ModelConfig& cfg, std::unique_ptr<WeightSource> weights, ThreadPool& pool,
                                   const LoadProgress& progress = {}, const Stage& stage = {});
struct LoadOptions {
  LoadProgress progress;
  // Convert linear weights to this dtype while loading (model/converted_weights.h says which):
  // Q8_0 / Q4_0 for `--quant`, F32 / F16 / BF16 for comparisons. Unset: weights as stored.
  std::optional<DType> convert;
  // Or convert them by a preset's per-tensor mix (model/quant_presets.h); takes precedence.
  std::optional<QuantChoice> convert_mix;
};

// A model's configuration and weights as load_model opens them (converted as `opts` says), before
// any tensor is bound: what a process that runs only part of a model binds its part from.
struct OpenedWeights {
  ModelConfig cfg;
  std::unique_ptr<WeightSource> weights;
};
OpenedWeights open_weights(const std::string& path, ThreadPool& pool, const LoadOptions& opts);

// `path` is a Hugging Face directory (config.json and the checkpoint beside it) or a GGUF file
// (model/gguf_config.h, model/gguf_weights.h).
// `stage`: a pipeline stage's layers; other layers' tensors are never bound nor read.
std::unique_ptr<Model> load_model(const std::string& path, ThreadPool& pool, const LoadOptions& opts = {},
                                  const Stage& stage = {});
// The configuration alone: DIR/config.json, a config.json file, or a GGUF file's metadata.
ModelConfig load_model_config(const std::string& path);

}  // namespace mla
