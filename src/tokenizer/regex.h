// A regular expression from a tokenizer.json, compiled once with PCRE2 (UTF + UCP, JIT when the
// platform has it) and matched read-only from any thread.
//
// Hugging Face tokenizers matches these patterns with Oniguruma. The two engines agree on the syntax
// the published tokenizers use (\p{..} classes, lookahead, (?i:..)), but not on \s: Oniguruma's
// is Unicode White_Space, PCRE2's (with UCP) lacks U+0085 NEXT LINE. The pattern is rewritten so
// that " \u0085" splits as Hugging Face splits it.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct pcre2_real_code_8;

namespace mla {

class Regex {
 public:
  // `where` names the file and pattern in errors (bad syntax, unsupported construct).
  Regex(const std::string& oniguruma_pattern, const std::string& where);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  Regex(Regex&& other) noexcept : code_(std::exchange(other.code_, nullptr)) {}

  // Appends the [start, end) byte ranges of the non-empty, non-overlapping matches in `s`, left to
  // right. `s` must be valid UTF-8 (checked once by the caller, not again per match).
  void find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& matches) const;

 private:
  pcre2_real_code_8* code_ = nullptr;
};

// The PCRE2 spelling of an Oniguruma pattern: \s gains U+0085 (exposed for tests).
std::string oniguruma_to_pcre2(std::string_view pattern, const std::string& where);

}  // namespace mla
