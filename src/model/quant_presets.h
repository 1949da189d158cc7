// Named quantization mixes ("q4_k_m", "q6_k", ...) and the per-tensor type each picks, as
// llama.cpp's `llama-quantize` chooses them (src/llama-quant.cpp: llama_ftype_get_default_type,
// llama_tensor_get_type_impl, tensor_type_fallback; read at ggml-org/llama.cpp 007dbbf) for the
// tensors our GGUF exporter writes, without an importance matrix. docs/QUANTIZATION.md has a
// table per preset.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tensor/dtype.h"

namespace mla {

struct ModelConfig;

struct QuantPreset {
  const char* name;  // as `--type` takes it: "q4_k_m"
  uint32_t ftype;    // llama.h llama_ftype: general.file_type of a GGUF file written with it
  DType base;        // the type of every matrix the rules do not move
};

// nullptr for an unknown name; names are lower case.
const QuantPreset* find_quant_preset(std::string_view name);
// "q4_k_m, q5_k_m, ..." for error messages and help.
std::string quant_preset_names();

// What the rules look at besides the tensor: layer count, routed experts (0 for dense),
// query heads per K/V head as the GGUF file states it (MLA: all heads share one latent, so
// n_gqa = heads), and whether the output projection is tied to the embedding.
struct QuantModelShape {
  int64_t n_layers = 0, n_expert = 0, n_gqa = 1;
  bool tied_output = false;
};
QuantModelShape quant_model_shape(const ModelConfig& cfg);

// The type preset `p` gives the quantizable matrix `gguf_name` (GGUF naming; experts stacked as
// ffn_*_exps) whose rows hold `cols` values; F16 where not even the fallback type tiles a row.
DType preset_tensor_type(const QuantPreset& p, const QuantModelShape& m, const std::string& gguf_name, int64_t cols);

// A `--type` argument: a preset above, or, for any other block type with a quantizer ("q4_k",
// "q3_k"), that type for every matrix (llama-quantize --pure).
struct QuantChoice {
  const QuantPreset* preset = nullptr;
  DType single = DType::Q8_0;  // when !preset
};
std::optional<QuantChoice> parse_quant_choice(std::string_view name);
std::string quant_choice_name(const QuantChoice& c);  // "q4_k_m", "q4_k"
// Every name parse_quant_choice takes, presets first.
std::string quant_choice_names();
// The block type `c` gives the Hugging Face matrix `hf_name` with `cols` values per row, or
// nullopt where no block type tiles the row (the matrix is then kept as stored).
std::optional<DType> choose_weight_type(const QuantChoice& c, const QuantModelShape& m, const std::string& hf_name,
                                        int64_t cols);

// A Hugging Face tensor name in GGUF naming for the rules above: gguf_name_of, or
// "model.layers.N.mlp.experts.E.down_proj.weight" -> "blk.N.ffn_down_exps.weight". nullopt else.
std::optional<std::string> preset_role_name(const std::string& hf_name);

}  // namespace mla
