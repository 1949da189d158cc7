// `mla convert --to gguf`: a Hugging Face checkpoint directory (config.json, safetensors,
// tokenizer.json) written as one GGUF file in llama.cpp's current layout, following
// convert_hf_to_gguf.py: keys from model/gguf_config.h, tensors renamed (model/gguf_names.h),
// experts stacked into ffn_*_exps, kv_b_proj split into attn_k_b (transposed) and attn_v_b, Llama
// q/k rows permuted for ggml's interleaved RoPE, tokenizer.ggml.* from tokenizer.json.
// Types, as convert_hf_to_gguf.py picks them: 1-D tensors (norms, exp_probs_b) and the router
// (ffn_gate_inp) F32; other matrices `type` (F32, F16, BF16). Without `type` each matrix keeps its
// stored type (F8_E4M3 becomes BF16), which makes the conversion lossless. With `mix` the matrices
// are quantized as llama-quantize would quantize them (model/quant_presets.h: a preset's per-tensor
// types, or one block type, F16 where a row is not whole blocks), and general.file_type is the
// preset's llama_ftype. Tensors are converted and written one at a time.
#pragma once
#include <optional>
#include <string>

#include "model/quant_presets.h"
#include "tensor/dtype.h"

namespace mla {

void export_gguf(const std::string& model_dir, const std::string& out_path, std::optional<DType> type,
                 std::optional<QuantChoice> mix = std::nullopt);

}  // namespace mla
