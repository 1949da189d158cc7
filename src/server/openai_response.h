// OpenAI response objects, in the shapes the official clients parse:
//   chat:        chat.completion {choices: [{index, message: {role, content, reasoning_content?},
//                logprobs: {content: [{token, logprob, bytes, top_logprobs}]} | null, finish_reason}]}
//                and chat.completion.chunk {choices: [{index, delta, logprobs, finish_reason}]}
//   completions: text_completion {choices: [{index, text, logprobs: {tokens, token_logprobs,
//                top_logprobs, text_offset} | null, finish_reason}]}, the same object per chunk
//   usage:       {prompt_tokens, completion_tokens, total_tokens, prompt_tokens_details}
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "server/openai_request.h"

namespace mla::server {

struct ResponseMeta {
  Endpoint endpoint;
  std::string id;  // "chatcmpl-..." | "cmpl-..."
  int64_t created;  // Unix seconds
  std::string model;
};
ResponseMeta make_meta(Endpoint endpoint, const std::string& model);

struct Usage {
  int64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
};
nlohmann::json usage_json(const Usage& u);

// One choice's text and tokens: a whole reply, or what one stream chunk adds.
struct ChoiceText {
  std::string content, reasoning;
  std::vector<TokenInfo> tokens;
  std::optional<std::string> finish_reason;  // set on the last chunk / the whole reply
  bool first = false;                          // chat stream: the delta carries the role
};

// logprobs: whether the request asked for them; text_offset: completions' running byte offset of
// the choice's text, advanced past these tokens.
nlohmann::json chunk_json(const ResponseMeta& meta, int index, const ChoiceText& c, bool logprobs,
                          const Tokenizer& tok, int64_t& text_offset);
nlohmann::json usage_chunk_json(const ResponseMeta& meta, const Usage& u);  // choices: [] + usage
nlohmann::json response_json(const ResponseMeta& meta, const std::vector<ChoiceText>& choices, bool logprobs,
                             const Tokenizer& tok, const Usage& u);

// JSON text that never throws on invalid UTF-8 (a token may be part of a character): U+FFFD.
std::string dump(const nlohmann::json& j);

}  // namespace mla::server
