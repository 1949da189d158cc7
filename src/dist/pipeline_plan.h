// The pipeline plan: which ranks compute which layers when a model is split across MPI ranks by
// layers (docs/DISTRIBUTED.md). Pure arithmetic over the stored tensors' byte counts; no MPI here,
// so `mla inspect --ranks N` plans machines on any build.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kv/kv_accounting.h"
#include "model/config.h"

namespace mla::dist {

// The stored weight bytes of a model, by where they go in a pipeline.
struct ModelBytes {
  std::vector<uint64_t> layer;  // [num_hidden_layers]: model.layers.i.* (GGUF blk.i.*)
  uint64_t embed = 0;           // model.embed_tokens (GGUF token_embd): the first stage
  uint64_t head = 0;            // model.norm + lm_head (GGUF output_norm, output): the last stage;
                                // with tied embeddings, the embedding again
  uint64_t routed_experts = 0;  // the routed experts' part of `layer` (mlp.experts.*, GGUF ffn_*_exps)
};
// From a Hugging Face directory or a GGUF file (tensor headers only; no tensor data is read).
// Layers at index >= num_hidden_layers (V3's multi-token-prediction module) are never loaded and
// not counted.
ModelBytes model_weight_bytes(const std::string& path, const ModelConfig& cfg);

struct StagePlan {
  int64_t layer_begin = 0, layer_end = 0;  // [begin, end)
  uint64_t weight_bytes = 0;               // its layers, plus the embedding (first) and head (last)
};

// Splits the layers into `n_ranks` consecutive non-empty stages so that the largest stage's weight
// bytes are as small as possible (exact, by dynamic programming over the split points); ties go to
// the earliest split. mla::Error when n_ranks < 1 or there are fewer layers than ranks.
std::vector<StagePlan> balance_layers(const ModelBytes& bytes, int n_ranks);

// "--split-layers 0-13,14-26": one range per rank, consecutive, covering every layer exactly once
// ("5" is the one-layer range 5-5). mla::Error naming the flag and what is wrong otherwise.
std::vector<StagePlan> parse_split_layers(const std::string& spec, const ModelBytes& bytes, int n_ranks);

// Values one token caches per layer in this engine's cache rows (MLA: kv_lora_rank + rope;
// MHA / GQA / MQA: 2 x n_head_kv x head_dim), and their bytes in `dtype`.
int64_t cache_row_values(const ModelConfig& cfg);
uint64_t cache_row_bytes(const ModelConfig& cfg, kv::CacheDtype dtype);

// The plan as a table: rank, layers, weight bytes, KV bytes per token (at `dtype`).
std::string format_plan(const std::vector<StagePlan>& plan, const ModelConfig& cfg, kv::CacheDtype dtype);

}  // namespace mla::dist
