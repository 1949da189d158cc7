// Strict JSON parsing for the files the engine reads (safetensors headers, config.json, index files):
// a malformed document or a duplicated object key is an mla::Error of one line naming the file.
// nlohmann::json silently keeps the last of duplicated keys, which would let two readers of the same
// file disagree about what it says, so duplicates are rejected here.
#pragma once
#include <algorithm>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace mla {

// Byte offset of the first invalid UTF-8 sequence in `s` (RFC 3629: no overlongs, no surrogates,
// nothing above U+10FFFF), or npos when all of it is valid.
inline size_t find_invalid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    unsigned lo = 0x80, hi = 0xbf;  // allowed range of the second byte
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c == 0xe0) lo = 0xa0;       // overlong
      if (c == 0xed) hi = 0x9f;       // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c == 0xf0) lo = 0x90;       // overlong
      if (c == 0xf4) hi = 0x8f;       // above U+10FFFF
    } else {
      return i;
    }
    if (i + len > n) return i;
    if (p[i + 1] < lo || p[i + 1] > hi) return i;
    for (size_t k = 2; k < len; ++k)
      if (p[i + k] < 0x80 || p[i + k] > 0xbf) return i;
    i += len;
  }
  return std::string_view::npos;
}

// `s` with each byte of an ill-formed UTF-8 sequence written as the text \xNN, so a message that
// quotes input stays valid UTF-8 (the server sends messages inside JSON).
inline std::string valid_utf8_text(std::string_view s) {
  std::string out;
  for (size_t bad; (bad = find_invalid_utf8(s)) != std::string_view::npos; s.remove_prefix(bad + 1)) {
    static const char hex[] = "0123456789ABCDEF";
    const auto byte = static_cast<unsigned char>(s[bad]);
    out.append(s.substr(0, bad));
    out += "\\x";
    out += hex[byte >> 4];
    out += hex[byte & 15];
  }
  out.append(s);
  return out;
}

// nlohmann's messages start with "[json.exception.parse_error.101] "; keep what follows, on one line
// and valid UTF-8 (its "last read: '...'" quotes the bytes read so far, which can end inside a
// character: found by fuzz/openai_request_fuzz.cpp).
inline std::string json_error_text(const std::exception& e) {
  std::string msg = e.what();
  if (!msg.empty() && msg[0] == '[') {
    size_t close = msg.find("] ");
    if (close != std::string::npos) msg = msg.substr(close + 2);
  }
  for (char& ch : msg)
    if (ch == '\n' || ch == '\r') ch = ' ';
  return valid_utf8_text(msg);
}

// Nesting depth of a JSON text: the deepest run of '[' / '{' outside strings (a lexical count, exact
// for any text that parses). nlohmann parses iteratively but copies and dumps values recursively, so a
// document nested some thousands deep overflows the stack later on; readers refuse one up front.
inline int json_nesting_depth(std::string_view text) {
  int depth = 0, max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max_depth;
}

// The deepest nesting the file readers accept (real configs, headers and tokenizer.json files nest
// under 10 levels).
inline constexpr int kMaxJsonDepth = 128;

// Parses `text` as JSON (Json: nlohmann::json or nlohmann::ordered_json). `where` prefixes every
// error ("<path>" or "<path>: header"). Rejects invalid UTF-8, syntax errors, duplicated keys and
// nesting deeper than kMaxJsonDepth.
template <class Json>
Json parse_json_strict(std::string_view text, const std::string& where) {
  if (size_t bad = find_invalid_utf8(text); bad != std::string_view::npos)
    fail(where, ": not valid UTF-8 (byte ", bad, ")");
  if (json_nesting_depth(text) > kMaxJsonDepth) fail(where, ": JSON nests deeper than ", kMaxJsonDepth, " levels");
  std::vector<std::set<std::string>> keys;  // one set per open object
  std::string duplicate;
  auto callback = [&](int /*depth*/, typename Json::parse_event_t event, Json& parsed) {
    using E = typename Json::parse_event_t;
    if (event == E::object_start) {
      keys.emplace_back();
    } else if (event == E::object_end) {
      if (!keys.empty()) keys.pop_back();
    } else if (event == E::key && !keys.empty() && duplicate.empty()) {
      if (parsed.is_string()) {
        const auto& k = parsed.template get_ref<const std::string&>();
        if (!keys.back().insert(k).second) duplicate = k;
      }
    }
    return true;
  };
  Json j;
  try {
    j = Json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/true,
                    /*ignore_comments=*/false);
  } catch (const std::exception& e) {
    fail(where, ": malformed JSON: ", json_error_text(e));
  }
  if (!duplicate.empty()) fail(where, ": duplicate key \"", duplicate, "\"");
  return j;
}

// A JSON value shown in an error message: its JSON text, cut short when long.
template <class Json>
std::string json_brief(const Json& v) {
  std::string s = v.dump(-1, ' ', /*ensure_ascii=*/true, Json::error_handler_t::replace);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

}  // namespace mla
