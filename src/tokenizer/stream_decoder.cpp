// StreamDecoder: a token may end in the middle of a UTF-8 character (byte-level BPE splits rare
// characters and emoji into byte tokens), so text goes out one complete character at a time.
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace mla {

std::string StreamDecoder::push(int32_t id) {
  pending_ += tok_.token_bytes(id);
  std::string out;
  size_t i = 0;
  while (i < pending_.size()) {
    const utf8::Step step = utf8::next(std::string_view(pending_).substr(i));
    if (step.kind == utf8::Step::kIncomplete) break;  // may complete with the next token
    // An ill-formed sequence never completes: replace it now rather than stall the stream.
    if (step.kind == utf8::Step::kInvalid)
      out += utf8::kReplacement;
    else
      out.append(pending_, i, step.len);
    i += step.len;
  }
  pending_.erase(0, i);
  return out;
}

std::string StreamDecoder::flush() {
  // What is left is one incomplete character at most: the stream ended inside it.
  std::string out = pending_.empty() ? "" : std::string(utf8::kReplacement);
  pending_.clear();
  return out;
}

}  // namespace mla
