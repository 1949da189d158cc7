// UTF-8 reading one sequence at a time, with the well-formedness rules of Unicode 15 §3.9 table 3-7
// (no overlongs, no surrogates, nothing above U+10FFFF). Shared by encode (which rejects invalid
// input) and the stream decoder (which holds back incomplete characters and replaces invalid ones).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mla::utf8 {

struct Step {
  enum Kind { kChar, kIncomplete, kInvalid };
  Kind kind;
  // kChar: bytes of the character. kInvalid: bytes of the maximal ill-formed subpart (Unicode's
  // unit for one U+FFFD). kIncomplete: bytes present, all of them a valid prefix of a character.
  size_t len;
};

// Reads the sequence at the start of `s` (non-empty).
Step next(std::string_view s);

// Byte offset of the first ill-formed or truncated sequence in `s`, or npos if `s` is valid.
size_t find_invalid(std::string_view s);

// The code point of the valid character at the start of `s` (s.size() >= its length).
uint32_t decode_char(std::string_view s);

void append(std::string& out, uint32_t cp);

inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace mla::utf8
