#include "tokenizer/gguf_vocab.h"

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "formats/json_strict.h"

namespace mla {

namespace {

using nlohmann::json;

constexpr int32_t kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5;  // llama_token_type

json split(const std::string& regex) {
  return {{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}};
}
json byte_level(bool use_regex) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", use_regex}};
}

// The pre_tokenizer of the published tokenizer.json each llama.cpp name stands for.
json pre_tokenizer_of(const std::string& name) {
  if (name == "deepseek-v3")
    return {{"type", "Sequence"},
            {"pretokenizers",
             {split("\\p{N}{1,3}"), split("[一-龥぀-ゟ゠-ヿ]+"),
              split("[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
                    " ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"),
              byte_level(false)}}};
  if (name == "llama-bpe")
    return {{"type", "Sequence"},
            {"pretokenizers",
             {split("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
                    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"),
              byte_level(false)}}};
  if (name == "default" || name == "gpt2") return byte_level(true);
  return nullptr;
}

// What a pre_tokenizer does, without the options that do not change the pieces.
std::vector<std::string> stages(const json& j) {
  std::vector<std::string> out;
  if (!j.is_object()) return out;
  const std::string type = j.value("type", "");
  if (type == "Sequence" && j.contains("pretokenizers") && j["pretokenizers"].is_array()) {
    for (const json& s : j["pretokenizers"])
      for (std::string& x : stages(s)) out.push_back(std::move(x));
  } else if (type == "Split" && j.contains("pattern") && j["pattern"].is_object() && j["pattern"].contains("Regex")) {
    out.push_back("Split " + j["pattern"]["Regex"].dump());
  } else if (type == "ByteLevel") {
    if (j.value("use_regex", true)) out.push_back("ByteLevel regex");
  } else {
    out.push_back(j.dump());
  }
  return out;
}

}  // namespace

std::unique_ptr<Tokenizer> tokenizer_from_gguf(const GgufFile& f) {
  const std::string model = f.get_string("tokenizer.ggml.model");
  if (model != "gpt2") fail(f.path(), ": tokenizer.ggml.model '", model, "' is not supported (only gpt2: byte-level BPE)");
  const std::string pre_name = f.get_string("tokenizer.ggml.pre", "default");
  json pre = pre_tokenizer_of(pre_name);
  if (pre.is_null())
    fail(f.path(), ": tokenizer.ggml.pre '", pre_name, "' is not supported (deepseek-v3, llama-bpe, default)");
  const auto& tokens = f.get_array("tokenizer.ggml.tokens", GgufType::STRING);
  const auto& merges = f.get_array("tokenizer.ggml.merges", GgufType::STRING);
  const std::vector<GgufValue>* types = f.has("tokenizer.ggml.token_type")
                                            ? &f.get_array("tokenizer.ggml.token_type", GgufType::I32)
                                            : nullptr;
  if (types && types->size() != tokens.size())
    fail(f.path(), ": tokenizer.ggml.token_type has ", types->size(), " entries for ", tokens.size(), " tokens");
  json vocab = json::object(), added = json::array(), merge_list = json::array();
  for (size_t id = 0; id < tokens.size(); ++id) {
    const int64_t type = types ? (*types)[id].i : kNormal;
    const std::string& text = tokens[id].s;
    if (type == kControl || type == kUserDefined) {
      added.push_back({{"id", id}, {"content", text}, {"special", type == kControl}, {"normalized", type != kControl},
                       {"lstrip", false}, {"rstrip", false}, {"single_word", false}});
    } else if (type != kUnused) {
      if (!vocab.emplace(text, id).second)
        fail(f.path(), ": tokenizer.ggml.tokens has '", text, "' twice (ids ", vocab[text].get<int64_t>(), " and ", id, ")");
    }
  }
  for (const GgufValue& m : merges) merge_list.push_back(m.s);
  json j = {{"model",
             {{"type", "BPE"}, {"vocab", std::move(vocab)}, {"merges", std::move(merge_list)},
              {"ignore_merges", pre_name == "llama-bpe"}}},  // Llama-3's tokenizer.json sets it
            {"pre_tokenizer", std::move(pre)},
            {"added_tokens", std::move(added)},
            {"decoder", {{"type", "ByteLevel"}}}};
  return Tokenizer::from_json(j, f.path() + ": tokenizer.ggml");
}

void add_gguf_vocab(GgufWriter& w, const std::string& path, int64_t vocab_size, std::optional<int64_t> bos,
                    std::optional<int64_t> eos) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  const json j = parse_json_strict<json>(text.str(), path);
  std::string pre_name;
  for (const char* name : {"deepseek-v3", "llama-bpe", "default"})
    if (stages(j.value("pre_tokenizer", json())) == stages(pre_tokenizer_of(name))) pre_name = name;
  if (pre_name.empty())
    fail(path, ": pre_tokenizer matches none llama.cpp names here (deepseek-v3, llama-bpe, default)");
  try {
    const json& model = j.at("model");
    if (model.at("type") != "BPE") fail(path, ": model type ", model.at("type").dump(), " is not BPE");
    std::vector<std::string> tokens(vocab_size);
    std::vector<int32_t> types(vocab_size, kUnused);
    auto put = [&](int64_t id, const std::string& s, int32_t type) {
      if (id < 0 || id >= vocab_size) fail(path, ": token id ", id, " is outside the model's vocab_size ", vocab_size);
      tokens[id] = s;
      types[id] = type;
    };
    for (const auto& [s, id] : model.at("vocab").items()) put(id.get<int64_t>(), s, kNormal);
    for (const json& a : j.value("added_tokens", json::array()))
      put(a.at("id").get<int64_t>(), a.at("content").get<std::string>(), a.value("special", false) ? kControl : kUserDefined);
    for (int64_t id = 0; id < vocab_size; ++id)
      if (types[id] == kUnused) tokens[id] = "[PAD" + std::to_string(id) + "]";
    std::vector<std::string> merges;
    for (const json& m : model.at("merges"))
      merges.push_back(m.is_array() ? m.at(0).get<std::string>() + " " + m.at(1).get<std::string>() : m.get<std::string>());
    w.add_string("tokenizer.ggml.model", "gpt2");
    w.add_string("tokenizer.ggml.pre", pre_name);
    w.add_strings("tokenizer.ggml.tokens", tokens);
    w.add_i32s("tokenizer.ggml.token_type", types);
    w.add_strings("tokenizer.ggml.merges", merges);
  } catch (const json::exception& e) {
    fail(path, ": ", e.what());
  }
  if (bos) w.add_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(*bos));
  if (eos) w.add_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(*eos));
  w.add_bool("tokenizer.ggml.add_bos_token", bos.has_value());
}

}  // namespace mla
