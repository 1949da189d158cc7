#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/utf8.h"

namespace mla::byte_level {
namespace {

bool printable(unsigned b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; }

struct Alphabet {
  std::array<uint32_t, 256> char_of{};
  std::array<int16_t, 512> byte_of{};  // every alphabet character is below U+0144; -1: not in it
  Alphabet() {
    byte_of.fill(-1);
    uint32_t extra = 0x100;
    for (unsigned b = 0; b < 256; ++b) {
      char_of[b] = printable(b) ? b : extra++;
      byte_of[char_of[b]] = static_cast<int16_t>(b);
    }
  }
};

const Alphabet& alphabet() {
  static const Alphabet a;
  return a;
}

}  // namespace

uint32_t char_of_byte(uint8_t b) { return alphabet().char_of[b]; }

std::string from_bytes(std::string_view bytes) {
  std::string out;
  for (unsigned char b : bytes) utf8::append(out, char_of_byte(b));
  return out;
}

bool to_bytes(std::string_view text, std::string& bytes) {
  const Alphabet& a = alphabet();
  bytes.clear();
  for (size_t i = 0; i < text.size();) {
    const size_t len = utf8::next(text.substr(i)).len;
    const uint32_t cp = utf8::decode_char(text.substr(i));
    if (cp >= a.byte_of.size() || a.byte_of[cp] < 0) return false;
    bytes += static_cast<char>(a.byte_of[cp]);
    i += len;
  }
  return true;
}

}  // namespace mla::byte_level
