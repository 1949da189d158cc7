#include "tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <memory>

#include "core/error.h"

namespace mla {
namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  if (pcre2_get_error_message(code, buf, sizeof buf) < 0) return str("PCRE2 error ", code);
  return reinterpret_cast<const char*>(buf);
}

}  // namespace

std::string oniguruma_to_pcre2(std::string_view pattern, const std::string& where) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[++i];
      if (e == 's') {
        out += in_class ? "\\s\\x{85}" : "[\\s\\x{85}]";
      } else if (e == 'S') {
        // [^\S...] has no spelling that adds one character to \s; no published tokenizer writes it.
        if (in_class) fail(where, ": \\S inside a character class is not supported");
        out += "[^\\s\\x{85}]";
      } else {
        out += c;
        out += e;
      }
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal, not the end of the class.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
      continue;
    }
    if (in_class && c == '[') fail(where, ": nested character classes are not supported");
    if (in_class && c == ']') in_class = false;
    out += c;
  }
  return out;
}

Regex::Regex(const std::string& oniguruma_pattern, const std::string& where) {
  const std::string pattern = oniguruma_to_pcre2(oniguruma_pattern, where);
  int error = 0;
  PCRE2_SIZE offset = 0;
  // PCRE2_NEVER_BACKSLASH_C: \C matches one byte even in UTF mode, so a piece could end inside a
  // character, and the next stage matches pieces with PCRE2_NO_UTF_CHECK, undefined on invalid UTF-8
  // (Oniguruma has no such escape; no tokenizer.json writes it).
  code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                        PCRE2_UTF | PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C, &error, &offset, nullptr);
  if (!code_) fail(where, ": bad regex at offset ", offset, ": ", pcre2_message(error));
  // JIT is an optimisation: where the platform lacks it pcre2_match interprets the same code.
  pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);
}

Regex::~Regex() { pcre2_code_free(code_); }

void Regex::find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& matches) const {
  using MatchData = std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)>;
  thread_local MatchData data(pcre2_match_data_create(1, nullptr), &pcre2_match_data_free);
  if (!data) fail("regex: out of memory");
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(s.data());
  size_t pos = 0;
  while (pos < s.size()) {
    const int rc = pcre2_match(code_, subject, s.size(), pos, PCRE2_NO_UTF_CHECK, data.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) return;
    if (rc < 0) fail("regex: ", pcre2_message(rc));
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data.get());
    if (ov[1] > ov[0]) {
      matches.emplace_back(ov[0], ov[1]);
      pos = ov[1];
    } else {  // an empty match: step over one character
      pos = ov[0] + 1;
      while (pos < s.size() && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80) ++pos;
    }
  }
}

}  // namespace mla
