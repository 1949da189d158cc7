// GPT-2's byte-level alphabet (bytes_to_unicode in openai/gpt-2 src/encoder.py). Vocabularies store
// each byte as a printable code point so that spaces and control bytes survive JSON and can be read:
// the printable Latin-1 bytes stand for themselves, the other 68 bytes for U+0100 upwards in order
// (so the space 0x20 is written "Ġ" U+0120, the newline "Ċ" U+010A).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace mla::byte_level {

uint32_t char_of_byte(uint8_t b);

// The vocabulary spelling of `bytes`.
std::string from_bytes(std::string_view bytes);

// The bytes a vocabulary string stands for. False (and `bytes` unspecified) if `text` has a character
// outside the alphabet, as the added tokens "<｜User｜>" do; `text` must be valid UTF-8.
bool to_bytes(std::string_view text, std::string& bytes);

}  // namespace mla::byte_level
