#include "tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <bitset>
#include <cstdio>
#include <memory>
#include <optional>

#include "core/error.h"
#include "tokenizer/unicode_categories.h"

namespace mla {
namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  if (pcre2_get_error_message(code, buf, sizeof buf) < 0) return str("PCRE2 error ", code);
  return reinterpret_cast<const char*>(buf);
}

// Inclusive code point ranges, sorted and disjoint.
using Ranges = std::vector<std::pair<char32_t, char32_t>>;

// Oniguruma's \s: the White_Space property (PropList.txt), unchanged since Unicode 6.3 dropped U+180E.
// PCRE2's \s lacks U+0085 NEXT LINE and (10.42) still holds U+180E.
const Ranges kWhiteSpace = {{0x09, 0x0D}, {0x20, 0x20},     {0x85, 0x85},     {0xA0, 0xA0},     {0x1680, 0x1680},
                            {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000}};

// The code points of general category `name`: a major class (L) or one category (Lu); nullopt when
// `name` is neither.
std::optional<Ranges> category(std::string_view name) {
  if (name.empty() || name.size() > 2) return std::nullopt;
  std::bitset<unicode::kCategoryNames.size()> wanted;
  for (size_t c = 0; c < unicode::kCategoryNames.size(); ++c) wanted[c] = unicode::kCategoryNames[c].starts_with(name);
  if (wanted.none()) return std::nullopt;
  const auto runs = unicode::category_runs();
  Ranges out;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!wanted[static_cast<size_t>(runs[i].category)]) continue;
    const char32_t last = i + 1 < runs.size() ? runs[i + 1].first - 1 : 0x10FFFF;
    if (!out.empty() && out.back().second + 1 == runs[i].first) {
      out.back().second = last;
    } else {
      out.emplace_back(runs[i].first, last);
    }
  }
  return out;
}

Ranges complement(const Ranges& r) {
  Ranges out;
  char32_t next = 0;
  for (auto [lo, hi] : r) {
    if (lo > next) out.emplace_back(next, lo - 1);
    next = hi + 1;
  }
  if (next <= 0x10FFFF) out.emplace_back(next, 0x10FFFF);
  return out;
}

Ranges unite(Ranges a, const Ranges& b) {
  a.insert(a.end(), b.begin(), b.end());
  std::sort(a.begin(), a.end());
  Ranges out;
  for (auto [lo, hi] : a) {
    if (!out.empty() && lo <= out.back().second + 1) {
      out.back().second = std::max(out.back().second, hi);
    } else {
      out.emplace_back(lo, hi);
    }
  }
  return out;
}

// `r` as the items of a PCRE2 character class, without the surrogates: UTF-8 text cannot hold them
// and PCRE2 refuses them in \x{..}.
std::string class_items(const Ranges& r) {
  std::string out;
  char buf[32];
  auto item = [&](char32_t lo, char32_t hi) {
    if (lo > hi) return;
    const int n = lo == hi ? std::snprintf(buf, sizeof buf, "\\x{%X}", static_cast<unsigned>(lo))
                           : std::snprintf(buf, sizeof buf, "\\x{%X}-\\x{%X}", static_cast<unsigned>(lo),
                                           static_cast<unsigned>(hi));
    out.append(buf, static_cast<size_t>(n));
  };
  // PCRE2 tries a class's items in order: the widest ranges (CJK ideographs, Hangul) first find the
  // characters text is most often made of soonest.
  Ranges by_width = r;
  std::stable_sort(by_width.begin(), by_width.end(), [](auto a, auto b) { return a.second - a.first > b.second - b.first; });
  for (auto [lo, hi] : by_width) {
    item(lo, std::min<char32_t>(hi, 0xD7FF));
    item(std::max<char32_t>(lo, 0xE000), hi);
  }
  return out;
}

struct ClassEscape {
  Ranges ranges;
  bool negated;
  size_t length;  // of the escape after its backslash
};

// The class `escape` (the text after a backslash) starts with, if it is one whose members depend on
// the Unicode version: \p{X} and \P{X} (also \p{^X}) for a general category X, \s, \S, \d (Oniguruma's
// is \p{Nd}) and \D. nullopt for every other escape, which PCRE2 reads as Oniguruma does (or, for
// other properties such as scripts, with its own Unicode version).
std::optional<ClassEscape> class_escape(std::string_view escape) {
  switch (escape[0]) {
    case 's':
    case 'S':
      return ClassEscape{kWhiteSpace, escape[0] == 'S', 1};
    case 'd':
    case 'D':
      return ClassEscape{*category("Nd"), escape[0] == 'D', 1};
    case 'p':
    case 'P': {
      const size_t close = escape.find('}');
      if (escape.size() < 2 || escape[1] != '{' || close == std::string_view::npos) return std::nullopt;
      std::string_view name = escape.substr(2, close - 2);
      bool negated = escape[0] == 'P';
      if (name.starts_with('^')) {
        negated = !negated;
        name.remove_prefix(1);
      }
      std::optional<Ranges> ranges = category(name);
      if (!ranges) return std::nullopt;
      return ClassEscape{std::move(*ranges), negated, close + 1};
    }
  }
  return std::nullopt;
}

}  // namespace

std::string oniguruma_to_pcre2(std::string_view pattern, const std::string& where) {
  // Each \p{L} spells out to about 11 KB and a tokenizer.json is untrusted: stop long before PCRE2
  // would refuse the pattern (64 KiB compiled with the default link size; GPT-4o's pattern spells out
  // to 104 KB and compiles to 48 KB).
  constexpr size_t kMaxSpelling = size_t{1} << 20;
  std::string out;
  bool in_class = false;
  Ranges class_members;  // of the class escapes inside the class being read, written at its end
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (out.size() > kMaxSpelling) fail(where, ": too many Unicode classes (over 1 MiB spelled out as ranges)");
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      if (std::optional<ClassEscape> e = class_escape(pattern.substr(i + 1))) {
        i += e->length;
        if (in_class) {
          class_members = unite(std::move(class_members), e->negated ? complement(e->ranges) : e->ranges);
        } else {
          // Under (?i) PCRE2 adds the other case of each member to this list, as Oniguruma does for
          // a bracketed [\p{Lu}] but not for a bare \p{Lu}. No published pattern puts a class inside
          // (?i:..), and a (?-i:..) around it would make \p{L}+ a repeated group, which runs out of
          // JIT stack on long runs of letters.
          out += e->negated ? "[^" : "[";
          out += class_items(e->ranges);
          out += ']';
        }
      } else {
        out += c;
        out += pattern[++i];
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
    if (in_class && c == ']') {
      in_class = false;
      out += class_items(class_members);
      class_members.clear();
    }
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
