// Tensor names in llama.cpp's GGUF layout (gguf-py/gguf/constants.py, TENSOR_NAMES; src/llama-arch.cpp)
// against the Hugging Face names the models bind. Only one-to-one renames are listed; what changes
// shape on the way is handled by the reader and writer themselves:
//   blk.N.ffn_{gate,up,down}_exps.weight  [E, rows, cols]: the experts' matrices stacked
//   blk.N.attn_k_b.weight [H, kv_lora_rank, qk_nope] and attn_v_b.weight [H, v_head_dim, kv_lora_rank]:
//       kv_b_proj split per head, the key half transposed (MLA absorption in llama.cpp)
//   llama blk.N.attn_q / attn_k: rows of each head permuted from Hugging Face's half-split RoPE
//       layout to ggml's interleaved one (convert_hf_to_gguf.py LlamaModel.permute)
#pragma once
#include <optional>
#include <string>
#include <utility>

namespace mla {

// "model.embed_tokens.weight" -> "token_embd.weight", "model.layers.3.self_attn.o_proj.weight" ->
// "blk.3.attn_output.weight"; nullopt for names with no one-to-one GGUF name.
std::optional<std::string> gguf_name_of(const std::string& hf_name);
// The inverse.
std::optional<std::string> hf_name_of(const std::string& gguf_name);

// "blk.N.<rest>" -> {N, rest}; nullopt for names outside a block.
std::optional<std::pair<long, std::string>> gguf_block(const std::string& gguf_name);

}  // namespace mla
