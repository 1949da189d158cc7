#include "model/quant_presets.h"

#include <cctype>

#include "model/config.h"
#include "model/gguf_names.h"
#include "tensor/quantize.h"

namespace mla {
namespace {

// llama_ftype numbers from llama.h; base types from llama_ftype_get_default_type.
constexpr QuantPreset kPresets[] = {
    {"q4_k_m", 15, DType::Q4_K}, {"q5_k_m", 17, DType::Q5_K}, {"q6_k", 18, DType::Q6_K},
    {"q3_k_m", 12, DType::Q3_K}, {"q2_k", 10, DType::Q2_K},   {"iq4_xs", 30, DType::IQ4_XS},
    {"q8_0", 7, DType::Q8_0},    {"q4_0", 2, DType::Q4_0},    {"q4_1", 3, DType::Q4_1},
    {"q5_0", 8, DType::Q5_0},    {"q5_1", 9, DType::Q5_1},    {"iq4_nl", 25, DType::IQ4_NL},
};

// llama-quant.cpp tensor_get_category: a name's role by substring, first match wins.
enum class Role { Output, TokenEmbd, AttnV, AttnK, AttnQ, AttnOutput, FfnUp, FfnGate, FfnDown, Other };

Role role_of(const std::string& name) {
  auto has = [&](const char* s) { return name.find(s) != std::string::npos; };
  if (name == "output.weight") return Role::Output;
  if (name == "token_embd.weight") return Role::TokenEmbd;
  // attn_v-like: "more sensitive to quantization" (category_is_attn_v). Our DeepSeek GGUF files
  // hold attn_k_b / attn_v_b instead of attn_kv_b (as convert_hf_to_gguf.py writes them), which
  // match none of these: they are Other, as in llama-quantize.
  if (has("attn_qkv.weight") || has("attn_kv_b.weight") || has("attn_v.weight")) return Role::AttnV;
  if (has("attn_k.weight")) return Role::AttnK;
  if (has("attn_q.weight")) return Role::AttnQ;
  if (has("attn_output.weight")) return Role::AttnOutput;
  if (has("ffn_up")) return Role::FfnUp;
  if (has("ffn_gate")) return Role::FfnGate;
  if (has("ffn_down")) return Role::FfnDown;
  return Role::Other;
}

// llama-quant.cpp use_more_bits: the first and last eighth of the layers, and every third between.
bool use_more_bits(int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

bool is(const QuantPreset& p, const char* name) { return std::string_view(p.name) == name; }

// llama_tensor_get_type_impl for the presets above, no imatrix, no Falcon, no 70B-Llama rule.
// `layer`: the tensor's block index. llama.cpp counts attn_v-like and (dense) ffn_down tensors in
// file order; with one per layer, as in our files, that count is the layer index.
DType rule_type(const QuantPreset& p, const QuantModelShape& m, Role role, int64_t layer, int64_t cols) {
  const DType base = p.base;
  const int64_t n = m.n_layers;
  switch (role) {
    case Role::TokenEmbd:
      if (!m.tied_output) return base;
      [[fallthrough]];  // a tied embedding is quantized as the output projection
    case Role::Output:
      if (cols % dtype_block_values(base) != 0) return DType::Q8_0;
      return base == DType::Q8_0 ? DType::Q8_0 : DType::Q6_K;
    case Role::AttnV: {
      DType t = base;
      if (is(p, "q2_k")) t = m.n_gqa >= 4 ? DType::Q4_K : DType::Q3_K;
      else if (is(p, "q3_k_m")) t = layer < 2 ? DType::Q5_K : DType::Q4_K;
      else if ((is(p, "iq4_nl") || is(p, "iq4_xs")) && m.n_gqa >= 4) t = DType::Q5_K;
      else if ((is(p, "q4_k_m") || is(p, "q5_k_m")) && use_more_bits(layer, n)) t = DType::Q6_K;
      return m.n_expert == 8 ? DType::Q8_0 : t;
    }
    case Role::AttnK: return m.n_expert == 8 ? DType::Q8_0 : base;
    case Role::FfnDown:
      if (is(p, "q2_k")) return DType::Q3_K;
      if (is(p, "q3_k_m")) return layer < n / 16 ? DType::Q5_K : DType::Q4_K;
      if (is(p, "q4_k_m")) return use_more_bits(layer, n) ? DType::Q6_K : base;
      if ((is(p, "iq4_nl") || is(p, "iq4_xs")) && layer < n / 8) return DType::Q5_K;
      if (is(p, "q5_k_m")) return use_more_bits(layer, n) ? DType::Q6_K : base;
      return base;
    case Role::AttnOutput:
      if (m.n_expert == 8)
        return is(p, "q2_k") || is(p, "q3_k_m") || is(p, "iq4_nl") || is(p, "q4_k_m") || is(p, "iq4_xs") ? DType::Q5_K
                                                                                                        : base;
      if (is(p, "q2_k")) return DType::Q3_K;
      if (is(p, "q3_k_m")) return DType::Q4_K;
      return base;
    case Role::AttnQ:
    case Role::FfnUp:
    case Role::FfnGate:
    case Role::Other: return base;
  }
  return base;
}

// tensor_type_fallback: a type whose block does not tile a row of `cols` values becomes a 32-value
// type of about the same size, or F16 when not even that tiles it.
DType fallback(DType t, int64_t cols) {
  if (cols % dtype_block_values(t) == 0) return t;
  switch (t) {
    case DType::IQ4_XS: t = DType::IQ4_NL; break;
    case DType::Q2_K:
    case DType::Q3_K: t = DType::Q4_0; break;
    case DType::Q4_K: t = DType::Q5_0; break;
    case DType::Q5_K: t = DType::Q5_1; break;
    case DType::Q6_K: t = DType::Q8_0; break;
    default: break;
  }
  return cols % dtype_block_values(t) == 0 ? t : DType::F16;
}

}  // namespace

const QuantPreset* find_quant_preset(std::string_view name) {
  for (const QuantPreset& p : kPresets)
    if (name == p.name) return &p;
  return nullptr;
}

std::string quant_preset_names() {
  std::string s;
  for (const QuantPreset& p : kPresets) s += (s.empty() ? "" : ", ") + std::string(p.name);
  return s;
}

QuantModelShape quant_model_shape(const ModelConfig& cfg) {
  QuantModelShape m;
  m.n_layers = cfg.num_hidden_layers;
  m.n_expert = cfg.n_routed_experts.value_or(0);
  const int64_t kv_heads = cfg.is_llama() ? cfg.num_key_value_heads : 1;  // gguf_config: MLA writes head_count_kv 1
  m.n_gqa = kv_heads > 0 ? cfg.num_attention_heads / kv_heads : 1;
  m.tied_output = cfg.tie_word_embeddings;
  return m;
}

DType preset_tensor_type(const QuantPreset& p, const QuantModelShape& m, const std::string& gguf_name, int64_t cols) {
  const auto block = gguf_block(gguf_name);
  return fallback(rule_type(p, m, role_of(gguf_name), block ? block->first : 0, cols), cols);
}

std::optional<std::string> preset_role_name(const std::string& hf_name) {
  if (auto g = gguf_name_of(hf_name)) return g;
  // model.layers.N.mlp.experts.E.<proj>_proj.weight
  const std::string prefix = "model.layers.";
  if (hf_name.rfind(prefix, 0) != 0) return std::nullopt;
  const size_t dot = hf_name.find('.', prefix.size());
  const size_t ex = hf_name.find(".mlp.experts.", prefix.size());
  if (dot == std::string::npos || ex != dot) return std::nullopt;
  for (const char* proj : {"gate", "up", "down"})
    if (hf_name.ends_with(std::string(".") + proj + "_proj.weight"))
      return "blk." + hf_name.substr(prefix.size(), dot - prefix.size()) + ".ffn_" + proj + "_exps.weight";
  return std::nullopt;
}

std::optional<QuantChoice> parse_quant_choice(std::string_view name) {
  if (const QuantPreset* p = find_quant_preset(name)) return QuantChoice{p, p->base};
  const auto t = quant_type_from_name(name);
  if (t && can_quantize(*t)) return QuantChoice{nullptr, *t};
  return std::nullopt;
}

std::string quant_choice_name(const QuantChoice& c) {
  if (c.preset) return c.preset->name;
  std::string s = dtype_name(c.single);
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

std::string quant_choice_names() {
  std::string s = quant_preset_names();
  for (int i = 0; i <= static_cast<int>(DType::IQ1_M); ++i) {
    const auto t = static_cast<DType>(i);
    if (!can_quantize(t)) continue;
    const std::string n = quant_choice_name({nullptr, t});
    if (!find_quant_preset(n)) s += ", " + n;
  }
  return s;
}

std::optional<DType> choose_weight_type(const QuantChoice& c, const QuantModelShape& m, const std::string& hf_name,
                                        int64_t cols) {
  DType t;
  if (!c.preset) {
    t = c.single;
  } else if (const auto role = preset_role_name(hf_name)) {
    t = preset_tensor_type(*c.preset, m, *role, cols);
  } else {
    t = fallback(c.preset->base, cols);
  }
  if (!dtype_is_quantized(t) || cols % dtype_block_values(t) != 0) return std::nullopt;
  return t;
}

}  // namespace mla
