// `mla tokenize`: prints the ids a tokenizer.json gives a text (no BOS added), for checking the
// tokenizer against Hugging Face's and for looking at how a prompt is cut.
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

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
  bool json = false;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open");
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

void run_tokenize(const TokenizeArgs& args) {
  // A GGUF file carries its tokenizer in tokenizer.ggml.* metadata.
  const auto tok = is_gguf_file(args.tokenizer) ? tokenizer_from_gguf(GgufFile(args.tokenizer)) : Tokenizer::load(args.tokenizer);
  const std::string text = args.file.empty() ? args.text : read_file(args.file);
  std::vector<int32_t> ids;
  try {
    ids = tok->encode(text);
  } catch (const Error& e) {
    fail(args.file.empty() ? "--text" : args.file, ": ", e.what());
  }
  std::string line = args.json ? "[" : "";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) line += args.json ? "," : " ";
    line += std::to_string(ids[i]);
  }
  if (args.json) line += "]";
  std::printf("%s\n", line.c_str());
}

}  // namespace

void register_tokenize(CLI::App& app) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids of a text (no BOS added)");
  cmd->add_option("--tokenizer", args->tokenizer, "tokenizer.json (Hugging Face format) or GGUF file")->required();
  auto* text = cmd->add_option("--text", args->text, "the text to tokenize");
  auto* file = cmd->add_option("--file", args->file, "a file whose bytes are the text to tokenize");
  text->excludes(file);
  cmd->add_flag("--json", args->json, "print one JSON array instead of space-separated ids");
  cmd->callback([args, text, file] {
    if (text->count() == 0 && file->count() == 0) fail("tokenize: give --text or --file");
    run_tokenize(*args);
  });
}

}  // namespace mla::cli
