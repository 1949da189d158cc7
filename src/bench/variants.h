// The models `mla bench` compares: the same shape (hidden size, heads, layers, dense SwiGLU MLP,
// vocabulary) with only the attention differing. MHA, GQA and MQA use 128-wide keys and values per
// head with ordinary RoPE, like the DeepSeek-V2 paper's baselines; the MLA variants are one
// DeepSeek-V2 model run through each attention path.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/mla_attention.h"

namespace mla::bench {

struct BenchShape {
  int64_t hidden_size = 2048;
  int64_t num_attention_heads = 16;
  int64_t num_hidden_layers = 4;
  int64_t intermediate_size = 10944;
  int64_t vocab_size = 32768;
  int64_t head_dim = 128;             // MHA / GQA / MQA
  int64_t gqa_kv_heads = 4;           // GQA's K/V heads
  std::optional<int64_t> q_lora_rank; // MLA
  int64_t kv_lora_rank = 512;
  int64_t qk_nope_head_dim = 128;
  int64_t qk_rope_head_dim = 64;
  int64_t v_head_dim = 128;

  std::string describe() const;
};

// deepseek-v2-lite-attn (hidden 2048, 16 heads, kv_lora 512, rope 64, nope 128, v 128) or
// deepseek-v3-attn (hidden 7168, 128 heads, q_lora 1536, the same MLA widths), with the layer
// count reduced so the comparison runs in minutes; throws on an unknown name.
BenchShape preset_shape(const std::string& name);
const std::vector<std::string>& preset_names();

const std::vector<std::string>& variant_names();  // mha, gqa, mqa, mla-naive, mla-absorbed, mla-auto
// The model config of one variant; throws on an unknown name.
ModelConfig variant_config(const BenchShape& shape, const std::string& variant);
// The MLA path a variant runs (Auto for the MHA family, where it is ignored).
AttnMode variant_attn_mode(const std::string& variant);

// Multiply-adds of attention, all layers, for T new tokens after p0 cached ones (causal: token t
// attends over p0 + t + 1 keys), on the path `mode` resolves to for that call.
double attention_macs(const ModelConfig& cfg, AttnMode mode, int64_t T, int64_t p0);
// ... for one token decoded at depth `context`.
inline double decode_attention_macs(const ModelConfig& cfg, AttnMode mode, int64_t context) {
  return attention_macs(cfg, mode, 1, context);
}

}  // namespace mla::bench
