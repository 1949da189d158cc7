// Generated ids -> released text, for one sequence: whole UTF-8 characters only, and never the
// beginning of a stop string until it is known not to complete one; a completed stop string ends the
// stream, cut before it (OpenAI `stop`: the stop sequence is not part of the text).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace mla {

class TextStream {
 public:
  TextStream(const Tokenizer& tok, std::vector<std::string> stop) : decoder_(tok), stop_(std::move(stop)) {}

  // The text that may be released after `id`; once a stop string completes, stopped() is true and
  // the text up to it has been released.
  std::string push(int32_t id);
  // The rest at the end of generation (held-back bytes; invalid UTF-8 as U+FFFD); empty after a stop.
  std::string finish();
  bool stopped() const { return stopped_; }

 private:
  StreamDecoder decoder_;
  std::vector<std::string> stop_;
  std::string pending_;  // decoded, not yet released
  bool stopped_ = false;
};

// Where the first complete stop string starts in `text` (npos if none), and how much of `text` can be
// released without possibly emitting the beginning of one.
size_t find_stop(std::string_view text, const std::vector<std::string>& stop);
size_t stop_safe_length(std::string_view text, const std::vector<std::string>& stop);

}  // namespace mla
