// The tokenizer in GGUF metadata (llama.cpp's tokenizer.ggml.* keys, BPE models only):
//   tokenizer.ggml.model   "gpt2" (byte-level BPE)
//   tokenizer.ggml.pre     pre-tokenizer name (src/llama-vocab.cpp): "deepseek-v3", "llama-bpe",
//                          "default" / "gpt2"; each stands for the regexes of that tokenizer.json
//   tokenizer.ggml.tokens  string per id (byte-level spelling; added tokens as their text)
//   tokenizer.ggml.token_type  i32 per id: 1 normal, 3 control (special added token),
//                          4 user-defined (non-special added token), 5 unused (a hole, "[PAD<id>]")
//   tokenizer.ggml.merges  "left right" in rank order
//   tokenizer.ggml.bos_token_id / eos_token_id (u32)
// Reading builds the tokenizer.json the metadata stands for and hands it to Tokenizer::from_json,
// so GGUF and Hugging Face tokenizers share every line of the encoder.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "tokenizer/tokenizer.h"

namespace mla {

// Throws mla::Error naming the file and key for missing keys, other models (llama, SentencePiece)
// and pre-tokenizer names it does not know.
std::unique_ptr<Tokenizer> tokenizer_from_gguf(const GgufFile& f);

// Writes the keys above from a tokenizer.json; ids up to vocab_size (holes padded as unused).
// Throws for a pre-tokenizer that matches none of the named ones (as convert_hf_to_gguf.py does).
void add_gguf_vocab(GgufWriter& w, const std::string& tokenizer_json_path, int64_t vocab_size,
                    std::optional<int64_t> bos, std::optional<int64_t> eos);

}  // namespace mla
