// ModelConfig from and to GGUF metadata, with the keys llama.cpp writes and reads for the
// `deepseek2` and `llama` architectures (convert_hf_to_gguf.py DeepseekV2Model / LlamaModel,
// src/llama-model.cpp load_hparams). `<arch>.` prefixes every model key:
//   block_count, context_length, embedding_length, feed_forward_length, attention.head_count,
//   attention.head_count_kv, attention.layer_norm_rms_epsilon, rope.freq_base, rope.dimension_count,
//   attention.key_length / value_length (llama: head_dim; deepseek2: the MQA view R + rope / R)
// deepseek2 only: attention.q_lora_rank (absent: plain attn_q), attention.kv_lora_rank,
//   attention.key_length_mla / value_length_mla (nope + rope / v_head_dim; absent in files of the older
//   attn_kv_b layout, where key_length / value_length hold them), leading_dense_block_count,
//   expert_count, expert_shared_count, expert_used_count, expert_feed_forward_length,
//   expert_weights_scale, expert_weights_norm, expert_gating_func (1 softmax, 2 sigmoid),
//   expert_group_count, expert_group_used_count, rope.scaling.{type, factor, original_context_length,
//   yarn_log_multiplier (= 0.1 * mscale_all_dim), yarn_beta_fast, yarn_beta_slow}.
// GGUF has no topk_method: noaux_tc when exp_probs_b tensors exist, group_limited_greedy when
// expert groups > 1, else greedy (what llama.cpp does).
#pragma once
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "model/config.h"

namespace mla {

// Throws mla::Error naming the file and key for missing or inconsistent metadata and for what the
// engine cannot run (other architectures, partial rotary dims).
ModelConfig gguf_config(const GgufFile& f);

// Writes the metadata above for `c` (general.architecture included). Throws for configs GGUF
// cannot express as llama.cpp reads it (moe_layer_freq != 1, YaRN mscale != mscale_all_dim).
// Llama's llama3 rope scaling is the tensor rope_freqs.weight (F32 [head_dim / 2] divisors of the
// frequencies), written by the exporter and read into ModelConfig::rope_freq_factors.
void add_gguf_config(GgufWriter& w, const ModelConfig& c);

// llama.cpp's `general.file_type` (enum llama_ftype) for a file whose matrices are mostly `t`.
uint32_t gguf_file_type(DType t);

}  // namespace mla
