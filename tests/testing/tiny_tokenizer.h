// Test helper: tiny byte-level BPE tokenizer.json documents (byte b is token b), written to a
// temporary file and loaded.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"

namespace mla::testing {

using nlohmann::json;

inline const json kGpt2PreTokenizer = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};

// A byte-level BPE tokenizer.json: byte b is token b; each merge's result gets the next free id
// (256, 257, ...) in the order the merges are listed.
inline json tiny_tokenizer(const std::vector<std::pair<std::string, std::string>>& merges,
                    const json& pre_tokenizer = kGpt2PreTokenizer) {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[mla::byte_level::from_bytes(std::string(1, static_cast<char>(b)))] = b;
  json merge_list = json::array();
  int32_t next_id = 256;
  for (const auto& [a, b] : merges) {
    if (!vocab.contains(a + b)) vocab[a + b] = next_id++;
    merge_list.push_back(a + " " + b);
  }
  return {{"version", "1.0"},
          {"added_tokens", json::array()},
          {"normalizer", nullptr},
          {"pre_tokenizer", pre_tokenizer},
          {"post_processor", nullptr},
          {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
          {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"vocab", vocab}, {"merges", merge_list}}}};
}

inline json added_token(const std::string& content, int32_t id, bool special = true) {
  return {{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", false},
          {"rstrip", false}, {"normalized", !special}, {"special", special}};
}

// Writes `j` to a file of its own under the temp directory and loads it.
inline std::unique_ptr<Tokenizer> load_tokenizer(const json& j) {
  static int counter = 0;
  const auto path = std::filesystem::temp_directory_path() /
                    ("mla_tokenizer_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + ".json");
  std::ofstream(path) << j.dump();
  struct Remove {
    std::filesystem::path path;
    ~Remove() { std::filesystem::remove(path); }
  } remove{path};
  return Tokenizer::load(path.string());
}

}  // namespace mla::testing
