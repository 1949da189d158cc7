// Tokenizer::load: reads a Hugging Face tokenizer.json and assembles the byte-level BPE pipeline
// encode runs: added tokens -> pre-tokenizer -> BPE per piece.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "core/error.h"
#include "formats/json_strict.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/utf8.h"

namespace mla {
namespace {

using nlohmann::json;

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open");
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  // A document nested thousands deep (a 16 KB normalizer of 8000 '[') overflowed the stack when
  // copied: seen running fuzz/tokenizer_fuzz.cpp on a hand-made input.
  if (json_nesting_depth(text) > kMaxJsonDepth) fail(path, ": JSON nests deeper than ", kMaxJsonDepth, " levels");
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    fail(path, ": not valid JSON: ", json_error_text(e));
  }
}

// Only the identity normalizer is supported: null or an empty Sequence (DeepSeek-V3 writes the latter).
void check_normalizer(const json& j, const std::string& path) {
  if (j.is_null()) return;
  const std::string type = j.is_object() ? j.value("type", "") : "";
  if (type == "Sequence" && j.value("normalizers", json::array()).empty()) return;
  fail(path, ": normalizer ", type.empty() ? j.dump() : type, " is not supported (only none)");
}

void check_decoder(const json& j, const std::string& path) {
  const std::string type = j.is_object() ? j.value("type", "") : "";
  if (type != "ByteLevel") fail(path, ": decoder ", j.dump(), " is not supported (only ByteLevel)");
}

class BpeTokenizer final : public Tokenizer {
 public:
  BpeTokenizer(Bpe bpe, PreTokenizer pre, AddedTokens added)
      : bpe_(std::move(bpe)), pre_(std::move(pre)), added_(std::move(added)) {
    int32_t max_id = -1;
    for (const auto& [spelling, id] : bpe_.vocab()) max_id = std::max(max_id, id);
    for (const AddedToken& t : added_.tokens()) max_id = std::max(max_id, t.id);
    bytes_.resize(max_id + 1);
    present_.resize(max_id + 1, false);
    // What each id decodes to, as Hugging Face's ByteLevel decoder does: a spelling in the byte-level
    // alphabet stands for its bytes, any other spelling for its own UTF-8 text.
    for (const auto& [spelling, id] : bpe_.vocab()) {
      if (!byte_level::to_bytes(spelling, bytes_[id])) bytes_[id] = spelling;
      present_[id] = true;
    }
    for (const AddedToken& t : added_.tokens()) {  // added tokens decode to their content
      bytes_[t.id] = t.content;
      present_[t.id] = true;
      added_ids_.insert_or_assign(t.content, t.id);
    }
  }

  std::vector<int32_t> encode(std::string_view text) const override {
    if (size_t bad = utf8::find_invalid(text); bad != std::string_view::npos)
      fail("encode: invalid UTF-8 at byte ", bad);
    std::vector<int32_t> ids;
    std::vector<Segment> segments;
    std::vector<std::string_view> pieces;
    added_.split(text, segments);
    for (const Segment& s : segments) {
      if (s.id >= 0) {
        ids.push_back(s.id);
        continue;
      }
      pieces.clear();
      pre_.split(s.text, pieces);
      for (std::string_view piece : pieces) bpe_.encode(piece, ids);
    }
    return ids;
  }

  std::string decode(const std::vector<int32_t>& ids) const override {
    std::string out;
    for (int32_t id : ids) out += bytes_of(id);
    return out;
  }

  std::string token_bytes(int32_t id) const override { return bytes_of(id); }

  int32_t vocab_size() const override { return static_cast<int32_t>(bytes_.size()); }

  int32_t token_id(std::string_view token) const override {
    const std::string key(token);
    if (auto it = added_ids_.find(key); it != added_ids_.end()) return it->second;
    auto it = bpe_.vocab().find(key);
    return it == bpe_.vocab().end() ? -1 : it->second;
  }

 private:
  const std::string& bytes_of(int32_t id) const {
    if (id < 0 || id >= vocab_size()) fail("decode: token id ", id, " is out of range (vocab size ", vocab_size(), ")");
    if (!present_[id]) fail("decode: token id ", id, " has no token in the vocabulary");
    return bytes_[id];
  }

  Bpe bpe_;
  PreTokenizer pre_;
  AddedTokens added_;
  std::vector<std::string> bytes_;  // id -> the bytes it decodes to
  std::vector<bool> present_;       // id -> whether any token has it (vocabularies may have holes)
  std::unordered_map<std::string, int32_t> added_ids_;  // content -> id; wins over the vocab's spelling
};

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string& tokenizer_json_path) {
  return from_json(read_json(tokenizer_json_path), tokenizer_json_path);
}

std::unique_ptr<Tokenizer> Tokenizer::from_json(const json& j, const std::string& path) {
  if (!j.is_object() || !j.contains("model")) fail(path, ": not a tokenizer.json (no \"model\" object)");
  try {
    check_normalizer(j.value("normalizer", json()), path);
    check_decoder(j.value("decoder", json()), path);
    return std::make_unique<BpeTokenizer>(Bpe::from_json(j["model"], path),
                                          PreTokenizer::from_json(j.value("pre_tokenizer", json()), path),
                                          AddedTokens::from_json(j.value("added_tokens", json()), path));
  } catch (const json::exception& e) {  // a field of the wrong JSON type somewhere the parts did not expect
    fail(path, ": ", e.what());
  }
}

}  // namespace mla
