// Added tokens ("<｜begin▁of▁sentence｜>", "<｜User｜>", ...) are found in the raw text before
// pre-tokenization and each becomes one id; the text between them is tokenized normally. As in
// tokenizers/src/tokenizer/added_vocabulary.rs: leftmost-longest match, first over the tokens marked
// normalized false, then over those marked normalized true in what is left (with no normalizer the
// order is all the second pass changes); lstrip/rstrip make a token swallow whitespace beside it.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace mla {

struct AddedToken {
  std::string content;
  int32_t id;
  bool special, normalized, lstrip, rstrip;
};

// A stretch of text: one added token (id >= 0) or text to pre-tokenize (id -1).
struct Segment {
  std::string_view text;
  int32_t id;
};

class AddedTokens {
 public:
  // `list` is tokenizer.json's "added_tokens"; `path` is for errors.
  static AddedTokens from_json(const nlohmann::json& list, const std::string& path);

  // Appends the segments of `text` (a token's segment includes any whitespace it strips).
  void split(std::string_view text, std::vector<Segment>& segments) const;

  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  // A byte trie over some of the tokens, for leftmost-longest search.
  class Matcher {
   public:
    void add(const std::string& content, int32_t token);
    // The first position >= from where a token starts, and the longest token there: {pos, token};
    // token -1 if none.
    std::pair<size_t, int32_t> find(std::string_view text, size_t from) const;

   private:
    static uint64_t edge(int32_t node, unsigned char byte) { return static_cast<uint64_t>(node) << 8 | byte; }
    std::unordered_map<uint64_t, int32_t> next_;  // (node, byte) -> node; node 0 is the root
    std::vector<int32_t> token_at_{-1};           // node -> index into tokens_ ending there, or -1
    bool starts_[256] = {};                       // bytes some token starts with: a quick skip
  };

  void split_with(const Matcher& m, std::string_view text, std::vector<Segment>& segments) const;

  std::vector<AddedToken> tokens_;
  Matcher raw_;         // tokens with normalized false
  Matcher normalized_;  // tokens with normalized true
};

}  // namespace mla
