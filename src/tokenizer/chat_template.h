// Chat templates: turn a conversation into the prompt text a DeepSeek chat model was trained on.
//
// A model's tokenizer_config.json carries its `chat_template` as Jinja source. Rather than embed a
// Jinja interpreter, the engine knows the DeepSeek families' templates and reproduces them exactly
// for text-only conversations (checked byte for byte against Hugging Face's Jinja renderer running
// the real templates: tests/e2e/chat_template_hf.sh). The family is recognised from the template
// text; an unrecognised template is an error unless the caller forces a family.
//
// DeepSeek-V3 (and V3-0324):
//   bos + system prompts joined by "\n\n"
//   + per message: "<｜User｜>" + content | "<｜Assistant｜>" + content + "<｜end▁of▁sentence｜>"
//   + generation prompt "<｜Assistant｜>"
// DeepSeek-R1: the same, except that an earlier assistant message keeps only the text after its
//   last "</think>" (the reasoning is dropped), and in its later revision the generation prompt
//   is "<｜Assistant｜><think>\n" (the model's reply starts inside its reasoning).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mla {

struct ChatMessage {
  std::string role;  // "system" | "user" | "assistant"
  std::string content;
};

enum class ChatFamily { DeepseekV3, DeepseekR1 };

// "deepseek-v3" / "deepseek-r1": the names the command line and error messages use.
std::string_view chat_family_name(ChatFamily f);
// Inverse of chat_family_name (also accepts "v3", "r1"); throws mla::Error listing the names.
ChatFamily parse_chat_family(std::string_view name);

class ChatTemplate {
 public:
  // Reads bos_token and eos_token (a string or {"content": ...}; absent or null -> "") and
  // chat_template (a string, or a list of {"name", "template"} from which "default" is taken).
  // `force` renders with that family's built-in template whatever chat_template says (and even
  // when it is missing). Throws mla::Error naming the file.
  static ChatTemplate from_tokenizer_config(const std::string& path,
                                            std::optional<ChatFamily> force = std::nullopt);
  // The same from template text already in hand; `origin` names it in errors.
  static ChatTemplate from_template_text(std::string_view chat_template, std::string bos,
                                         std::string eos, std::string_view origin,
                                         std::optional<ChatFamily> force = std::nullopt);
  // The family's template as its current published revision renders it (R1: with "<think>\n").
  static ChatTemplate builtin(ChatFamily f, std::string bos, std::string eos);

  // Throws mla::Error on a role other than system/user/assistant (tool calls are not supported).
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;

  ChatFamily family() const { return family_; }
  const std::string& bos_token() const { return bos_; }
  const std::string& eos_token() const { return eos_; }
  // What add_generation_prompt appends: "<｜Assistant｜>" or "<｜Assistant｜><think>\n".
  std::string generation_prompt() const;
  // True when the generation prompt opens a "<think>" block, so the reply starts with reasoning.
  bool opens_think() const { return opens_think_; }

 private:
  ChatTemplate(ChatFamily f, std::string bos, std::string eos);

  ChatFamily family_;
  std::string bos_, eos_;
  bool join_system_ = true;        // false: the last system message alone is the system prompt
  bool strip_reasoning_ = false;   // assistant content: only the text after its last "</think>"
  bool opens_think_ = false;       // generation prompt ends with "<think>\n"
};

// A DeepSeek-R1 reply split at its last "</think>" (the same split the template applies when the
// reply comes back as history). `reasoning` has the "<think>" opener and surrounding whitespace
// removed; `answer` has leading whitespace removed.
struct ReasoningSplit {
  std::string reasoning;
  std::string answer;
  bool thinking_done = false;  // a "</think>" was found (or there was no reasoning at all)
};
// `opened_think`: the prompt ended with "<think>\n" (ChatTemplate::opens_think()), so text without
// a "</think>" is unfinished reasoning. Otherwise such text is reasoning only if it starts with
// "<think>", and an answer if not.
ReasoningSplit split_reasoning(std::string_view reply, bool opened_think);

}  // namespace mla
