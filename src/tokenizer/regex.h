// A regular expression from a tokenizer.json, compiled once with PCRE2 (UTF + UCP, JIT when the
// platform has it) and matched read-only from any thread.
//
// Hugging Face tokenizers matches these patterns with Oniguruma. The two engines agree on the syntax
// the published tokenizers use (\p{..} classes, lookahead, (?i:..)), but not on what the classes
// hold: PCRE2's tables follow the Unicode version it was built with (14.0 for Debian 12's 10.42),
// Oniguruma 6.9.10's follow 16.0, and PCRE2's \s lacks U+0085 NEXT LINE (and 10.42's holds U+180E).
// So the pattern is rewritten: \p{X} / \P{X} for a general category X, \s, \S, \d and \D become
// explicit code point ranges from unicode_categories.h (Unicode 16.0.0) and White_Space. PCRE2's own
// tables still decide what the published patterns do not use: scripts (\p{Han}), \w, and the case
// folding of (?i:..), which agrees with Oniguruma's on the contractions they spell ('s ... 'd).
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

// The PCRE2 spelling of an Oniguruma pattern, its Unicode classes spelled out as ranges (exposed for
// tests).
std::string oniguruma_to_pcre2(std::string_view pattern, const std::string& where);

}  // namespace mla
