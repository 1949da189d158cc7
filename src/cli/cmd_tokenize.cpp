// `mla tokenize`: prints the ids a tokenizer.json gives a text (no BOS added), for checking the
// tokenizer against Hugging Face's and for looking at how a prompt is cut. --jsonl does many texts in
// one run (the tokenizer loads once): tests/e2e/tokenizer_unicode_hf.sh encodes over a million.
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "core/error.h"
#include "formats/gguf.h"
#include "tokenizer/gguf_vocab.h"
#include "tokenizer/tokenizer.h"

namespace mla::cli {
namespace {

struct TokenizeArgs {
  std::string tokenizer;
  std::string text;
  std::string file;
  std::string jsonl;
  bool json = false;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open");
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

void append_ids(std::string& out, const std::vector<int32_t>& ids, bool json) {
  if (json) out += '[';
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += json ? ',' : ' ';
    out += std::to_string(ids[i]);
  }
  if (json) out += ']';
  out += '\n';
}

// Each line of `path` is a JSON string (so a text may hold any character, newlines included); its
// ids go to stdout as one JSON array per line.
void tokenize_jsonl(const Tokenizer& tok, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open");
  std::string line, out;
  for (size_t n = 1; std::getline(in, line); ++n) {
    try {
      const nlohmann::json text = nlohmann::json::parse(line);
      if (!text.is_string()) fail("not a JSON string");
      append_ids(out, tok.encode(text.get<std::string>()), true);
    } catch (const std::exception& e) {
      fail(path, ":", n, ": ", e.what());
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
}

void run_tokenize(const TokenizeArgs& args) {
  // A GGUF file carries its tokenizer in tokenizer.ggml.* metadata.
  const auto tok = is_gguf_file(args.tokenizer) ? tokenizer_from_gguf(GgufFile(args.tokenizer)) : Tokenizer::load(args.tokenizer);
  if (!args.jsonl.empty()) return tokenize_jsonl(*tok, args.jsonl);
  const std::string text = args.file.empty() ? args.text : read_file(args.file);
  std::vector<int32_t> ids;
  try {
    ids = tok->encode(text);
  } catch (const Error& e) {
    fail(args.file.empty() ? "--text" : args.file, ": ", e.what());
  }
  std::string line;
  append_ids(line, ids, args.json);
  std::fwrite(line.data(), 1, line.size(), stdout);
}

}  // namespace

void register_tokenize(CLI::App& app) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids of a text (no BOS added)");
  cmd->add_option("--tokenizer", args->tokenizer, "tokenizer.json (Hugging Face format) or GGUF file")->required();
  auto* text = cmd->add_option("--text", args->text, "the text to tokenize");
  auto* file = cmd->add_option("--file", args->file, "a file whose bytes are the text to tokenize");
  auto* jsonl = cmd->add_option("--jsonl", args->jsonl,
                                 "a file of texts, one JSON string a line: prints one JSON array of ids a line");
  text->excludes(file);
  jsonl->excludes(text)->excludes(file);
  cmd->add_flag("--json", args->json, "print one JSON array instead of space-separated ids");
  cmd->callback([args, text, file, jsonl] {
    if (text->count() + file->count() + jsonl->count() == 0) fail("tokenize: give --text, --file or --jsonl");
    run_tokenize(*args);
  });
}

}  // namespace mla::cli
