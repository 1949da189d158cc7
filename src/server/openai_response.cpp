#include "server/openai_response.h"

#include <chrono>
#include <random>

namespace mla::server {
namespace {

using nlohmann::json;

// Token text for logprobs: the raw bytes (possibly part of a UTF-8 character; dump() replaces
// those) and the byte values, as OpenAI's `bytes` field carries them.
json token_entry(const Tokenizer& tok, int32_t id, float logprob) {
  const std::string b = tok.token_bytes(id);
  json bytes = json::array();
  for (unsigned char c : b) bytes.push_back(c);
  return {{"token", b}, {"logprob", logprob}, {"bytes", bytes}};
}

json logprobs_json(Endpoint endpoint, const std::vector<TokenInfo>& tokens, const Tokenizer& tok,
                   int64_t& text_offset) {
  if (endpoint == Endpoint::Chat) {
    json content = json::array();
    for (const TokenInfo& t : tokens) {
      json e = token_entry(tok, t.id, t.logprob);
      json top = json::array();
      for (const TopLogprob& x : t.top) top.push_back(token_entry(tok, x.id, x.logprob));
      e["top_logprobs"] = top;
      content.push_back(e);
    }
    return {{"content", content}};
  }
  json toks = json::array(), lps = json::array(), tops = json::array(), offs = json::array();
  for (const TokenInfo& t : tokens) {
    const std::string b = tok.token_bytes(t.id);
    toks.push_back(b);
    lps.push_back(t.logprob);
    json top = json::object();
    for (const TopLogprob& x : t.top) top[tok.token_bytes(x.id)] = x.logprob;
    tops.push_back(top);
    offs.push_back(text_offset);
    text_offset += static_cast<int64_t>(b.size());
  }
  return {{"tokens", toks}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offs}};
}

json reason_or_null(const std::optional<std::string>& r) { return r ? json(*r) : json(nullptr); }

}  // namespace

ResponseMeta make_meta(Endpoint endpoint, const std::string& model) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  char hex[25];
  std::snprintf(hex, sizeof hex, "%016llx%08x", static_cast<unsigned long long>(rng()),
                static_cast<unsigned>(rng()));
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  return {endpoint, std::string(endpoint == Endpoint::Chat ? "chatcmpl-" : "cmpl-") + hex, now, model};
}

json usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", u.cached_tokens}}}};
}

json chunk_json(const ResponseMeta& meta, int index, const ChoiceText& c, bool logprobs, const Tokenizer& tok,
                int64_t& text_offset) {
  const bool chat = meta.endpoint == Endpoint::Chat;
  json choice = {{"index", index}};
  if (chat) {
    json delta = json::object();
    if (c.first) delta["role"] = "assistant";
    if (!c.reasoning.empty()) delta["reasoning_content"] = c.reasoning;
    if (!c.content.empty() || (c.first && c.reasoning.empty())) delta["content"] = c.content;
    choice["delta"] = delta;
  } else {
    choice["text"] = c.content;
  }
  choice["logprobs"] = logprobs ? logprobs_json(meta.endpoint, c.tokens, tok, text_offset) : json(nullptr);
  choice["finish_reason"] = reason_or_null(c.finish_reason);
  return {{"id", meta.id},
          {"object", chat ? "chat.completion.chunk" : "text_completion"},
          {"created", meta.created},
          {"model", meta.model},
          {"choices", json::array({choice})}};
}

json usage_chunk_json(const ResponseMeta& meta, const Usage& u) {
  return {{"id", meta.id},
          {"object", meta.endpoint == Endpoint::Chat ? "chat.completion.chunk" : "text_completion"},
          {"created", meta.created},
          {"model", meta.model},
          {"choices", json::array()},
          {"usage", usage_json(u)}};
}

json response_json(const ResponseMeta& meta, const std::vector<ChoiceText>& choices, bool logprobs,
                   const Tokenizer& tok, const Usage& u) {
  const bool chat = meta.endpoint == Endpoint::Chat;
  json arr = json::array();
  for (size_t i = 0; i < choices.size(); ++i) {
    const ChoiceText& c = choices[i];
    int64_t offset = 0;
    json choice = {{"index", i}};
    if (chat) {
      json msg = {{"role", "assistant"}, {"content", c.content}};
      if (!c.reasoning.empty()) msg["reasoning_content"] = c.reasoning;
      choice["message"] = msg;
    } else {
      choice["text"] = c.content;
    }
    choice["logprobs"] = logprobs ? logprobs_json(meta.endpoint, c.tokens, tok, offset) : json(nullptr);
    choice["finish_reason"] = reason_or_null(c.finish_reason);
    arr.push_back(choice);
  }
  return {{"id", meta.id},
          {"object", chat ? "chat.completion" : "text_completion"},
          {"created", meta.created},
          {"model", meta.model},
          {"choices", arr},
          {"usage", usage_json(u)}};
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace mla::server
