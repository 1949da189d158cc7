// Pre-tokenization: the text between added tokens is cut into pieces ("pre-tokens") that BPE encodes
// one at a time, so merges never cross a piece boundary. Supports what byte-level BPE tokenizers
// publish: Split(Regex, Isolated) stages (DeepSeek-V3 has three, Llama-3 one) and ByteLevel, whose
// use_regex adds GPT-2's pattern. ByteLevel's byte-to-character mapping itself is implicit here:
// pieces stay raw bytes and the vocabulary is stored as bytes.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/regex.h"

namespace mla {

class PreTokenizer {
 public:
  // `j` is tokenizer.json's "pre_tokenizer" (null: the whole text is one piece). `path` is for errors.
  static PreTokenizer from_json(const nlohmann::json& j, const std::string& path);

  // Appends the pieces of `text` (views into it, non-empty, in order, covering all of it).
  void split(std::string_view text, std::vector<std::string_view>& pieces) const;

 private:
  void add(const nlohmann::json& j, const std::string& path);

  // Applied in order, each to every piece the previous stage produced; matches and the gaps between
  // them both become pieces (Hugging Face's SplitDelimiterBehavior::Isolated).
  std::vector<Regex> stages_;
};

}  // namespace mla
