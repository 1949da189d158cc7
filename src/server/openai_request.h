// Parsing and validation of OpenAI request bodies (POST /v1/chat/completions, /v1/completions,
// /tokenize, /detokenize) into engine RequestParams. Every field is type- and range-checked; the
// first problem is an ApiError (400, `param` naming the field; unknown model: 404
// model_not_found). Fields the engine does not use (user, metadata, ...) are accepted and ignored,
// as the official clients send some of them.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "kv/kv_accounting.h"
#include "server/api_error.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace mla::server {

// What the server serves: everything request parsing needs to know about the model.
struct ServedModel {
  std::string name;                  // the `model` clients must send (GET /v1/models lists it)
  const Tokenizer* tok = nullptr;
  const ChatTemplate* chat = nullptr;  // null: no chat template, /v1/chat/completions is refused
  int64_t vocab_size = 0;
  int64_t max_context = 0;           // prompt + max_tokens must fit
  int32_t bos_id = -1;               // prepended to text prompts of /v1/completions; -1: none
  double timeout_seconds = 0;        // per-request timeout given to the engine (0: none)
  std::optional<kv::KvShape> kv_shape;  // the model's cache shape (kv::shape_from_config), for GET /cache
};

enum class Endpoint { Chat, Completions };

inline constexpr int kMaxN = 16;         // choices per request
inline constexpr int kMaxStop = 4;       // stop strings per request (OpenAI's limit)
inline constexpr int kMaxTopLogprobs = 20;

struct ApiRequest {
  Endpoint endpoint = Endpoint::Completions;
  RequestParams params;        // choice i runs with seed params.sampling.seed + i
  int n = 1;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool logprobs = false;       // report log-probabilities (params.top_logprobs >= 0)
  bool reasoning = false;      // chat with a DeepSeek-R1 template: split <think>...</think> off
  bool opened_think = false;   // the prompt ended inside "<think>\n"
};

ApiRequest parse_openai_request(Endpoint endpoint, std::string_view body, const ServedModel& served);

// POST /tokenize: {"prompt": "text"} (BOS added as /v1/completions adds it; "add_special_tokens":
// false leaves it out) or {"messages": [...]} (the chat template applied). Returns the ids.
std::vector<int32_t> parse_tokenize_request(std::string_view body, const ServedModel& served);
// POST /detokenize: {"tokens": [ids]}. Returns the ids, each checked against the vocabulary.
std::vector<int32_t> parse_detokenize_request(std::string_view body, const ServedModel& served);

}  // namespace mla::server
