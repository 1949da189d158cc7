#include "tokenizer/pre_tokenizer.h"

#include "core/error.h"

namespace mla {
namespace {

using nlohmann::json;

// tokenizers/src/pre_tokenizers/byte_level.rs: the GPT-2 pattern ByteLevel splits with when use_regex.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

std::string type_of(const json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) fail(where, ": missing \"type\"");
  return j["type"].get<std::string>();
}

template <class T>
T field(const json& j, const char* key, T fallback) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? fallback : it->get<T>();
}

}  // namespace

PreTokenizer PreTokenizer::from_json(const json& j, const std::string& path) {
  PreTokenizer pre;
  if (!j.is_null()) pre.add(j, path);
  return pre;
}

void PreTokenizer::add(const json& j, const std::string& path) {
  const std::string where = path + ": pre_tokenizer";
  const std::string type = type_of(j, where);
  try {
    if (type == "Sequence") {
      for (const json& step : j.at("pretokenizers")) add(step, path);
    } else if (type == "Split") {
      const json& pattern = j.at("pattern");
      if (!pattern.contains("Regex")) fail(where, " Split: only Regex patterns are supported, got ", pattern.dump());
      const std::string behavior = j.at("behavior").get<std::string>();
      if (behavior != "Isolated") fail(where, " Split: behavior ", behavior, " is not supported (only Isolated)");
      if (field(j, "invert", false)) fail(where, " Split: invert true is not supported");
      const std::string regex = pattern["Regex"].get<std::string>();
      stages_.emplace_back(regex, where + " Split /" + regex + "/");
    } else if (type == "ByteLevel") {
      // add_prefix_space would put a space before every piece; no byte-level BPE we run sets it.
      if (field(j, "add_prefix_space", false)) fail(where, " ByteLevel: add_prefix_space true is not supported");
      if (field(j, "use_regex", true)) stages_.emplace_back(kGpt2Pattern, where + " ByteLevel");
    } else {
      fail(where, ": type ", type, " is not supported (Sequence, Split, ByteLevel are)");
    }
  } catch (const json::exception& e) {
    fail(where, " ", type, ": ", e.what());
  }
}

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& pieces) const {
  if (text.empty()) return;
  const size_t first = pieces.size();
  pieces.push_back(text);
  std::vector<std::string_view> next;
  std::vector<std::pair<size_t, size_t>> matches;
  for (const Regex& stage : stages_) {
    next.clear();
    for (size_t p = first; p < pieces.size(); ++p) {
      const std::string_view piece = pieces[p];
      matches.clear();
      stage.find_all(piece, matches);
      size_t done = 0;
      for (auto [start, end] : matches) {
        if (start > done) next.push_back(piece.substr(done, start - done));
        next.push_back(piece.substr(start, end - start));
        done = end;
      }
      if (done < piece.size()) next.push_back(piece.substr(done));
    }
    pieces.resize(first);
    pieces.insert(pieces.end(), next.begin(), next.end());
  }
}

}  // namespace mla
