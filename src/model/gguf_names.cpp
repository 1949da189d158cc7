#include "model/gguf_names.h"

#include <cstdlib>
#include <utility>

namespace mla {

namespace {

struct Rename {
  const char *hf, *gguf;
};

constexpr Rename kGlobal[] = {
    {"model.embed_tokens.weight", "token_embd.weight"},
    {"model.norm.weight", "output_norm.weight"},
    {"lm_head.weight", "output.weight"},
};

// After "model.layers.N." and "blk.N.".
constexpr Rename kLayer[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"self_attn.q_a_proj.weight", "attn_q_a.weight"},
    {"self_attn.q_a_layernorm.weight", "attn_q_a_norm.weight"},
    {"self_attn.q_b_proj.weight", "attn_q_b.weight"},
    {"self_attn.kv_a_proj_with_mqa.weight", "attn_kv_a_mqa.weight"},
    {"self_attn.kv_a_layernorm.weight", "attn_kv_a_norm.weight"},
    {"self_attn.kv_b_proj.weight", "attn_kv_b.weight"},
    {"mlp.gate.weight", "ffn_gate_inp.weight"},
    {"mlp.gate.e_score_correction_bias", "exp_probs_b.bias"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
    {"mlp.shared_experts.gate_proj.weight", "ffn_gate_shexp.weight"},
    {"mlp.shared_experts.up_proj.weight", "ffn_up_shexp.weight"},
    {"mlp.shared_experts.down_proj.weight", "ffn_down_shexp.weight"},
};

// "<prefix><N>.<rest>" -> {N, rest}
std::optional<std::pair<long, std::string>> split_block(const std::string& name, const std::string& prefix) {
  if (name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  const size_t dot = name.find('.', prefix.size());
  if (dot == std::string::npos || dot == prefix.size() || dot - prefix.size() > 9) return std::nullopt;
  long n = 0;
  for (size_t i = prefix.size(); i < dot; ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    n = n * 10 + (name[i] - '0');
  }
  return std::make_pair(n, name.substr(dot + 1));
}

}  // namespace

std::optional<std::pair<long, std::string>> gguf_block(const std::string& gguf_name) {
  return split_block(gguf_name, "blk.");
}

std::optional<std::string> gguf_name_of(const std::string& hf_name) {
  for (const Rename& r : kGlobal)
    if (hf_name == r.hf) return r.gguf;
  if (auto b = split_block(hf_name, "model.layers."))
    for (const Rename& r : kLayer)
      if (b->second == r.hf) return "blk." + std::to_string(b->first) + "." + r.gguf;
  return std::nullopt;
}

std::optional<std::string> hf_name_of(const std::string& gguf_name) {
  for (const Rename& r : kGlobal)
    if (gguf_name == r.gguf) return r.hf;
  if (auto b = gguf_block(gguf_name))
    for (const Rename& r : kLayer)
      if (b->second == r.gguf) return "model.layers." + std::to_string(b->first) + "." + r.hf;
  return std::nullopt;
}

}  // namespace mla
