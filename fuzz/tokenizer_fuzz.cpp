// libFuzzer target for tokenizer.json loading and encoding: the input is a tokenizer.json document,
// a NUL byte, then text to encode (a JSON document cannot hold a raw NUL, so the first one splits
// them; without one the whole input is the document and a fixed text is encoded). The document goes
// into an in-memory file, as in safetensors_fuzz.cpp, so the engine's own path runs:
// Tokenizer::load(path). Any document must either load or throw mla::Error; a loaded tokenizer must
// encode valid UTF-8 into ids inside its vocabulary (or throw mla::Error, e.g. a regex hitting its
// match limit), refuse invalid UTF-8 with mla::Error, decode every id it produced, and stream-decode
// them to the same text whenever that text is valid UTF-8. Never a crash, a leak or undefined
// behaviour.

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"
#include "memfd_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nul = in.find('\0');
  const std::string_view doc = in.substr(0, nul);
  const std::string_view text =
      nul == std::string_view::npos ? "Hello world! 123 \xE4\xB8\xAD\xE6\x96\x87 it's  \n\n done" : in.substr(nul + 1);

  std::unique_ptr<mla::Tokenizer> tok;
  try {
    tok = mla::Tokenizer::load(fuzz_input_path("tokenizer_fuzz", data, doc.size()));
  } catch (const mla::Error&) {
    return 0;  // rejected: fine
  }
  const bool valid_text = mla::utf8::find_invalid(text) == std::string_view::npos;
  std::vector<int32_t> ids;
  try {
    ids = tok->encode(text);
  } catch (const mla::Error&) {
    return 0;  // invalid UTF-8 (checked below), or a pattern's run-time limit
  }
  if (!valid_text) std::abort();  // invalid UTF-8 must be refused
  const int32_t vocab = tok->vocab_size();
  for (int32_t id : ids)
    if (id < 0 || id >= vocab) std::abort();
  if (!text.empty() && ids.empty()) std::abort();

  std::string whole;
  try {
    whole = tok->decode(ids);  // every id encode produced stands for some bytes
  } catch (const mla::Error&) {
    std::abort();
  }
  mla::StreamDecoder stream(*tok);
  std::string streamed;
  for (int32_t id : ids) streamed += stream.push(id);
  streamed += stream.flush();
  if (mla::utf8::find_invalid(streamed) != std::string_view::npos) std::abort();  // the stream is always UTF-8
  if (mla::utf8::find_invalid(whole) == std::string_view::npos && streamed != whole) std::abort();
  return 0;
}
