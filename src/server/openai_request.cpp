#include "server/openai_request.h"

#include <cmath>
#include <limits>

#include "formats/json_strict.h"

namespace mla::server {
namespace {

using nlohmann::json;

constexpr int kMaxDepth = 32;  // JSON nesting beyond this is refused before parsing

ApiError bad(const std::string& param, const std::string& message) { return ApiError(400, message, param); }

json parse_body(std::string_view body) {
  if (json_nesting_depth(body) > kMaxDepth) throw bad("", str("the request body nests deeper than ", kMaxDepth, " levels"));
  json j;
  try {
    j = parse_json_strict<json>(body, "request body");
  } catch (const Error& e) {
    throw bad("", e.what());
  }
  if (!j.is_object()) throw bad("", "the request body must be a JSON object");
  return j;
}

// Typed, range-checked access to the fields of one request object. Absent and null fields keep
// their defaults, as OpenAI treats them.
class Fields {
 public:
  explicit Fields(const json& j) : j_(j) {}

  const json* get(const char* name) const {
    auto it = j_.find(name);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }
  bool has(const char* name) const { return get(name) != nullptr; }

  bool boolean(const char* name, bool def) const {
    const json* v = get(name);
    if (!v) return def;
    if (!v->is_boolean()) throw bad(name, str("'", name, "' must be a boolean, got ", json_brief(*v)));
    return v->get<bool>();
  }
  double number(const char* name, double def, double lo, double hi) const {
    const json* v = get(name);
    if (!v) return def;
    if (!v->is_number()) throw bad(name, str("'", name, "' must be a number, got ", json_brief(*v)));
    const double x = v->get<double>();
    if (!std::isfinite(x) || x < lo || x > hi)
      throw bad(name, str("'", name, "' must be in [", lo, ", ", hi, "], got ", json_brief(*v)));
    return x;
  }
  int64_t integer(const char* name, int64_t def, int64_t lo, int64_t hi) const {
    const json* v = get(name);
    if (!v) return def;
    return as_integer(*v, name, lo, hi);
  }
  std::string string(const char* name, const std::string& def) const {
    const json* v = get(name);
    if (!v) return def;
    if (!v->is_string()) throw bad(name, str("'", name, "' must be a string, got ", json_brief(*v)));
    return v->get<std::string>();
  }

  static int64_t as_integer(const json& v, const std::string& name, int64_t lo, int64_t hi) {
    int64_t x;
    if (v.is_number_integer() && !v.is_number_unsigned()) {
      x = v.get<int64_t>();
    } else if (v.is_number_unsigned()) {
      const uint64_t u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(hi)) throw range(name, lo, hi, v);
      x = static_cast<int64_t>(u);
    } else {
      throw bad(name, str("'", name, "' must be an integer, got ", json_brief(v)));
    }
    if (x < lo || x > hi) throw range(name, lo, hi, v);
    return x;
  }

 private:
  static ApiError range(const std::string& name, int64_t lo, int64_t hi, const json& v) {
    return bad(name, str("'", name, "' must be in [", lo, ", ", hi, "], got ", json_brief(v)));
  }
  const json& j_;
};

void check_model(const Fields& f, const ServedModel& served) {
  const json* m = f.get("model");
  if (!m) throw bad("model", "'model' is required");
  if (!m->is_string()) throw bad("model", str("'model' must be a string, got ", json_brief(*m)));
  if (m->get<std::string>() != served.name)
    throw ApiError(404, str("the model '", m->get<std::string>(), "' does not exist; this server serves '",
                            served.name, "'"),
                   "model", "model_not_found");
}

std::vector<int32_t> encode(const ServedModel& served, const std::string& text, const char* param) {
  try {
    return served.tok->encode(text);
  } catch (const Error& e) {
    throw bad(param, str("'", param, "': ", e.what()));
  }
}

// messages: [{"role": "system"|"developer"|"user"|"assistant", "content": string | [{"type":
// "text", "text": string}, ...]}, ...] -> chat template prompt ids.
std::vector<int32_t> chat_prompt(const json& messages, const ServedModel& served) {
  if (!served.chat)
    throw bad("messages", "this model has no chat template (tokenizer_config.json); use /v1/completions");
  if (!messages.is_array() || messages.empty()) throw bad("messages", "'messages' must be a non-empty array");
  std::vector<ChatMessage> conv;
  for (size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    const std::string where = str("messages[", i, "]");
    if (!m.is_object()) throw bad("messages", where + " must be an object");
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) throw bad("messages", where + ".role must be a string");
    std::string r = role->get<std::string>();
    if (r == "developer") r = "system";  // OpenAI's newer name for the system role
    if (r != "system" && r != "user" && r != "assistant")
      throw bad("messages", str(where, ".role '", role->get<std::string>(),
                                "' is not supported (system, developer, user, assistant)"));
    auto content = m.find("content");
    std::string text;
    if (content == m.end() || content->is_null()) {
      if (r != "assistant") throw bad("messages", where + ".content is required");
    } else if (content->is_string()) {
      text = content->get<std::string>();
    } else if (content->is_array()) {
      for (const json& part : *content) {
        if (!part.is_object() || part.value("type", json()) != "text" || !part.contains("text") ||
            !part["text"].is_string())
          throw bad("messages", where + ".content parts must be {\"type\": \"text\", \"text\": string}");
        text += part["text"].get<std::string>();
      }
    } else {
      throw bad("messages", where + ".content must be a string or an array of text parts");
    }
    conv.push_back({r, std::move(text)});
  }
  std::string rendered;
  try {
    rendered = served.chat->render(conv, true);
  } catch (const Error& e) {
    throw bad("messages", e.what());
  }
  return encode(served, rendered, "messages");
}

std::vector<int32_t> check_ids(const json& arr, const ServedModel& served, const char* param) {
  std::vector<int32_t> ids;
  for (const json& v : arr)
    ids.push_back(static_cast<int32_t>(Fields::as_integer(v, param, 0, served.vocab_size - 1)));
  return ids;
}

// prompt: "text" | ["text"] | [id, ...]
std::vector<int32_t> completion_prompt(const json& prompt, const ServedModel& served, bool add_bos) {
  const json* text = nullptr;
  if (prompt.is_string()) text = &prompt;
  else if (prompt.is_array() && prompt.size() == 1 && prompt[0].is_string()) text = &prompt[0];
  if (text) {
    std::vector<int32_t> ids;
    if (add_bos && served.bos_id >= 0) ids.push_back(served.bos_id);
    const std::vector<int32_t> body = encode(served, text->get<std::string>(), "prompt");
    ids.insert(ids.end(), body.begin(), body.end());
    return ids;
  }
  if (prompt.is_array() && !prompt.empty() && prompt[0].is_number()) return check_ids(prompt, served, "prompt");
  if (prompt.is_array() && prompt.size() > 1 && prompt[0].is_string())
    throw bad("prompt", "a batch of prompts is not supported; send one prompt per request (or use n)");
  throw bad("prompt", "'prompt' must be a string or an array of token ids");
}

std::vector<std::string> stop_strings(const Fields& f) {
  const json* v = f.get("stop");
  if (!v) return {};
  std::vector<std::string> out;
  if (v->is_string()) {
    out.push_back(v->get<std::string>());
  } else if (v->is_array()) {
    if (v->size() > static_cast<size_t>(kMaxStop)) throw bad("stop", str("'stop' holds at most ", kMaxStop, " strings"));
    for (const json& s : *v) {
      if (!s.is_string()) throw bad("stop", "'stop' must be a string or an array of strings");
      out.push_back(s.get<std::string>());
    }
  } else {
    throw bad("stop", "'stop' must be a string or an array of strings");
  }
  for (const auto& s : out)
    if (s.empty() || s.size() > 256) throw bad("stop", "each stop string must have 1 to 256 bytes");
  return out;
}

}  // namespace

ApiRequest parse_openai_request(Endpoint endpoint, std::string_view body, const ServedModel& served) {
  const json j = parse_body(body);
  const Fields f(j);
  check_model(f, served);
  ApiRequest r;
  r.endpoint = endpoint;
  RequestParams& p = r.params;
  if (endpoint == Endpoint::Chat) {
    const json* m = f.get("messages");
    if (!m) throw bad("messages", "'messages' is required");
    p.prompt = chat_prompt(*m, served);
    r.reasoning = served.chat->family() == ChatFamily::DeepseekR1;
    r.opened_think = served.chat->opens_think();
  } else {
    const json* pr = f.get("prompt");
    if (!pr) throw bad("prompt", "'prompt' is required");
    p.prompt = completion_prompt(*pr, served, true);
    if (f.boolean("echo", false)) throw bad("echo", "'echo' is not supported");
    if (f.has("suffix")) throw bad("suffix", "'suffix' is not supported");
  }
  if (p.prompt.empty()) throw bad(endpoint == Endpoint::Chat ? "messages" : "prompt", "the prompt is empty");
  const int64_t prompt_len = static_cast<int64_t>(p.prompt.size());
  if (prompt_len >= served.max_context)
    throw ApiError(400, str("the prompt is ", prompt_len, " tokens; this model's context is ", served.max_context,
                            " tokens, which leaves no room to generate"),
                   endpoint == Endpoint::Chat ? "messages" : "prompt", "context_length_exceeded");
  const int64_t room = served.max_context - prompt_len;

  // max_completion_tokens (chat's newer name) wins over max_tokens when both are given.
  const char* max_name = f.has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
  const int64_t def_max = endpoint == Endpoint::Completions ? std::min<int64_t>(16, room) : room;
  p.max_tokens = f.integer(max_name, def_max, 1, std::numeric_limits<int32_t>::max());
  if (p.max_tokens > room)
    throw ApiError(400, str("prompt (", prompt_len, " tokens) + ", max_name, " (", p.max_tokens,
                            ") exceed this model's context of ", served.max_context, " tokens"),
                   max_name, "context_length_exceeded");

  SamplingParams& s = p.sampling;
  s.temperature = static_cast<float>(f.number("temperature", 1.0, 0.0, 2.0));
  s.top_p = static_cast<float>(f.number("top_p", 1.0, 0.0, 1.0));
  if (s.top_p <= 0) throw bad("top_p", "'top_p' must be in (0, 1]");
  // top_k: 0 or -1 (vLLM's "off") disable it.
  const int64_t top_k = f.integer("top_k", 0, -1, std::min<int64_t>(served.vocab_size, 1 << 30));
  s.top_k = static_cast<int32_t>(std::max<int64_t>(top_k, 0));
  s.min_p = static_cast<float>(f.number("min_p", 0.0, 0.0, 1.0));
  s.presence_penalty = static_cast<float>(f.number("presence_penalty", 0.0, -2.0, 2.0));
  s.frequency_penalty = static_cast<float>(f.number("frequency_penalty", 0.0, -2.0, 2.0));
  s.repetition_penalty = static_cast<float>(f.number("repetition_penalty", 1.0, 0.01, 10.0));
  s.seed = static_cast<uint64_t>(f.integer("seed", 0, std::numeric_limits<int64_t>::min(),
                                           std::numeric_limits<int64_t>::max()));
  p.stop = stop_strings(f);
  p.ignore_eos = f.boolean("ignore_eos", false);
  p.timeout_seconds = served.timeout_seconds;

  r.n = static_cast<int>(f.integer("n", 1, 1, kMaxN));
  r.stream = f.boolean("stream", false);
  if (const json* so = f.get("stream_options")) {
    if (!r.stream) throw bad("stream_options", "'stream_options' is only allowed with \"stream\": true");
    if (!so->is_object()) throw bad("stream_options", "'stream_options' must be an object");
    r.include_usage = Fields(*so).boolean("include_usage", false);
  }
  if (endpoint == Endpoint::Chat) {
    r.logprobs = f.boolean("logprobs", false);
    const int64_t top = f.integer("top_logprobs", 0, 0, kMaxTopLogprobs);
    if (f.has("top_logprobs") && !r.logprobs)
      throw bad("top_logprobs", "'top_logprobs' needs \"logprobs\": true");
    p.top_logprobs = r.logprobs ? static_cast<int32_t>(top) : -1;
  } else {
    // Completions: "logprobs": k asks for the chosen token's and the k most likely.
    r.logprobs = f.has("logprobs");
    p.top_logprobs = r.logprobs ? static_cast<int32_t>(f.integer("logprobs", 0, 0, kMaxTopLogprobs)) : -1;
  }
  return r;
}

std::vector<int32_t> parse_tokenize_request(std::string_view body, const ServedModel& served) {
  const json j = parse_body(body);
  const Fields f(j);
  if (f.has("model")) check_model(f, served);
  const json* prompt = f.get("prompt");
  const json* messages = f.get("messages");
  if ((prompt != nullptr) == (messages != nullptr)) throw bad("prompt", "give exactly one of 'prompt' and 'messages'");
  if (messages) return chat_prompt(*messages, served);
  if (!prompt->is_string()) throw bad("prompt", "'prompt' must be a string");
  return completion_prompt(*prompt, served, f.boolean("add_special_tokens", true));
}

std::vector<int32_t> parse_detokenize_request(std::string_view body, const ServedModel& served) {
  const json j = parse_body(body);
  const Fields f(j);
  if (f.has("model")) check_model(f, served);
  const json* tokens = f.get("tokens");
  if (!tokens || !tokens->is_array()) throw bad("tokens", "'tokens' must be an array of token ids");
  return check_ids(*tokens, served, "tokens");
}

}  // namespace mla::server
