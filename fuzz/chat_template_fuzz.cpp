// libFuzzer target for chat templates: reading a tokenizer_config.json (bos / eos tokens, the
// chat_template text or list) and rendering arbitrary conversations with it, then splitting the
// rendered text and every message at "</think>" as the server does with replies.
// Input layout:
//   byte 0             bit 0: add_generation_prompt; bits 1-2: forced family (0, 3: none; 1: V3; 2: R1)
//   bytes 1..NUL       tokenizer_config.json (into an in-memory file: ChatTemplate::from_tokenizer_config)
//   then per message   a role byte (% 4: system, user, assistant, or an unsupported "tool"),
//                      then its content up to the next NUL (or the end)
// Any config must load or throw mla::Error; a conversation with an unsupported role must throw
// mla::Error; any other must render: bos first, every user message and the generation prompt in it,
// no longer than its parts. Never a crash, a leak or undefined behaviour.

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "tokenizer/chat_template.h"
#include "memfd_input.h"

namespace {

void check_split(std::string_view text, bool opened_think) {
  const mla::ReasoningSplit s = mla::split_reasoning(text, opened_think);
  if (s.reasoning.size() + s.answer.size() > text.size()) std::abort();
  if (text.find(s.answer) == std::string_view::npos || text.find(s.reasoning) == std::string_view::npos) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t nul = in.find('\0');
  const std::string_view config = in.substr(0, nul);
  std::optional<mla::ChatFamily> force;
  if (((flags >> 1) & 3) == 1) force = mla::ChatFamily::DeepseekV3;
  if (((flags >> 1) & 3) == 2) force = mla::ChatFamily::DeepseekR1;
  const bool add_generation_prompt = flags & 1;

  std::vector<mla::ChatMessage> messages;
  bool unsupported = false;
  size_t total = 0;
  for (size_t pos = nul == std::string_view::npos ? in.size() : nul + 1; pos < in.size();) {
    static const char* const kRoles[] = {"system", "user", "assistant", "tool"};
    const int role = static_cast<unsigned char>(in[pos]) % 4;
    const size_t end = std::min(in.find('\0', pos + 1), in.size());
    messages.push_back({kRoles[role], std::string(in.substr(pos + 1, end - pos - 1))});
    unsupported |= role == 3;
    total += end - pos - 1;
    pos = end + 1;
  }

  std::optional<mla::ChatTemplate> chat;
  try {
    chat = mla::ChatTemplate::from_tokenizer_config(
        fuzz_input_path("chat_template_fuzz", data + 1, config.size()), force);
  } catch (const mla::Error&) {
    return 0;  // rejected: fine
  }
  if (force && chat->family() != *force) std::abort();
  std::string out;
  try {
    out = chat->render(messages, add_generation_prompt);
  } catch (const mla::Error&) {
    if (!unsupported) std::abort();  // only an unsupported role is an error
    return 0;
  }
  if (unsupported) std::abort();
  const std::string& bos = chat->bos_token();
  const std::string gen = chat->generation_prompt();
  if (out.compare(0, bos.size(), bos) != 0) std::abort();
  if (add_generation_prompt && (out.size() < gen.size() || out.compare(out.size() - gen.size(), gen.size(), gen) != 0))
    std::abort();
  // bos, the contents and at most 64 bytes of role markers per message (+ the generation prompt).
  if (out.size() > bos.size() + total + 64 * messages.size() + gen.size()) std::abort();
  for (const mla::ChatMessage& m : messages)
    if (m.role == "user" && out.find(m.content) == std::string::npos) std::abort();

  check_split(out, chat->opens_think());
  for (const mla::ChatMessage& m : messages) check_split(m.content, chat->opens_think());
  return 0;
}
