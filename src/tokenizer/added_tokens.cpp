#include "tokenizer/added_tokens.h"

#include "core/error.h"
#include "tokenizer/bpe.h"
#include "tokenizer/utf8.h"

namespace mla {
namespace {

using nlohmann::json;

// Unicode White_Space, what Rust's char::is_whitespace (used for lstrip/rstrip) tests.
bool is_white_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

// Start of the run of whitespace that ends at `end` (text is valid UTF-8).
size_t white_space_before(std::string_view text, size_t end) {
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    if (!is_white_space(utf8::decode_char(text.substr(start)))) break;
    end = start;
  }
  return end;
}

// End of the run of whitespace that starts at `start`.
size_t white_space_after(std::string_view text, size_t start) {
  while (start < text.size()) {
    const std::string_view rest = text.substr(start);
    if (!is_white_space(utf8::decode_char(rest))) break;
    start += utf8::next(rest).len;
  }
  return start;
}

}  // namespace

void AddedTokens::Matcher::add(const std::string& content, int32_t token) {
  int32_t node = 0;
  for (unsigned char byte : content) {
    auto [it, inserted] = next_.try_emplace(edge(node, byte), static_cast<int32_t>(token_at_.size()));
    if (inserted) token_at_.push_back(-1);
    node = it->second;
  }
  token_at_[node] = token;  // a repeated content: the later entry wins, as in Hugging Face's map
  starts_[static_cast<unsigned char>(content[0])] = true;
}

std::pair<size_t, int32_t> AddedTokens::Matcher::find(std::string_view text, size_t from) const {
  for (size_t pos = from; pos < text.size(); ++pos) {
    if (!starts_[static_cast<unsigned char>(text[pos])]) continue;
    int32_t node = 0, longest = -1;
    for (size_t i = pos; i < text.size(); ++i) {
      auto it = next_.find(edge(node, static_cast<unsigned char>(text[i])));
      if (it == next_.end()) break;
      node = it->second;
      if (token_at_[node] >= 0) longest = token_at_[node];
    }
    if (longest >= 0) return {pos, longest};
  }
  return {text.size(), -1};
}

AddedTokens AddedTokens::from_json(const json& list, const std::string& path) {
  AddedTokens added;
  if (list.is_null()) return added;
  try {
    for (const json& t : list) {
      const std::string content = t.at("content").get<std::string>();
      const std::string where = path + ": added token " + json(content).dump();
      if (content.empty()) fail(path, ": added token with empty content");
      // single_word needs Unicode word boundaries; no byte-level BPE tokenizer we run sets it.
      if (t.value("single_word", false)) fail(where, ": single_word true is not supported");
      const bool special = t.value("special", false);
      AddedToken token{content, token_id_from_json(t.at("id"), where), special, t.value("normalized", !special),
                       t.value("lstrip", false), t.value("rstrip", false)};
      const int32_t index = static_cast<int32_t>(added.tokens_.size());
      (token.normalized ? added.normalized_ : added.raw_).add(content, index);
      added.tokens_.push_back(std::move(token));
    }
  } catch (const json::exception& e) {
    fail(path, ": added_tokens: ", e.what());
  }
  return added;
}

void AddedTokens::split_with(const Matcher& m, std::string_view text, std::vector<Segment>& segments) const {
  size_t done = 0;  // end of what has been emitted
  size_t from = 0;  // where to search next
  while (true) {
    auto [pos, index] = m.find(text, from);
    if (index < 0) break;
    const AddedToken& token = tokens_[index];
    size_t start = pos, end = pos + token.content.size();
    if (token.lstrip) start = std::max(white_space_before(text, start), done);
    if (token.rstrip) end = white_space_after(text, end);
    if (start > done) segments.push_back({text.substr(done, start - done), -1});
    segments.push_back({text.substr(start, end - start), token.id});
    done = from = end;
  }
  if (done < text.size()) segments.push_back({text.substr(done), -1});
}

void AddedTokens::split(std::string_view text, std::vector<Segment>& segments) const {
  const size_t first = segments.size();
  split_with(raw_, text, segments);
  std::vector<Segment> pass1(segments.begin() + static_cast<std::ptrdiff_t>(first), segments.end());
  segments.resize(first);
  for (const Segment& s : pass1) {
    if (s.id >= 0)
      segments.push_back(s);
    else
      split_with(normalized_, s.text, segments);
  }
}

}  // namespace mla
