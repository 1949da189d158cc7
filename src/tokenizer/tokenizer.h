// Byte-level BPE tokenizer loaded from a Hugging Face `tokenizer.json` (model.type "BPE" with
// byte-level pre-tokenization, as DeepSeek-V2/V3/R1 and Llama-3 publish it).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace mla {

class Tokenizer {
 public:
  // Throws mla::Error naming the file on anything it does not understand.
  static std::unique_ptr<Tokenizer> load(const std::string& tokenizer_json_path);
  // The same from a parsed tokenizer.json object; `where` names it in errors.
  static std::unique_ptr<Tokenizer> from_json(const nlohmann::json& j, const std::string& where);
  virtual ~Tokenizer() = default;

  // Text -> ids. Special/added tokens that appear in the text are matched as single tokens.
  // No BOS is added. Invalid UTF-8 input throws mla::Error.
  virtual std::vector<int32_t> encode(std::string_view text) const = 0;
  // Ids -> bytes of UTF-8 text (may be an incomplete UTF-8 sequence for a single token).
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  virtual std::string token_bytes(int32_t id) const = 0;  // the raw bytes one token stands for
  virtual int32_t vocab_size() const = 0;
  virtual int32_t token_id(std::string_view token) const = 0;  // -1 if unknown (by token string)
};

// Streaming detokenizer: feed ids one at a time, get back only complete UTF-8 text; bytes of a
// character split across tokens are held until the character completes.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok) : tok_(tok) {}
  std::string push(int32_t id);  // the newly completed text (possibly empty)
  std::string flush();           // whatever is left (invalid bytes as U+FFFD)

 private:
  const Tokenizer& tok_;
  std::string pending_;
};

}  // namespace mla
