// libFuzzer target for OpenAI request parsing (server/openai_request.h): the bodies of
// POST /v1/chat/completions, /v1/completions, /tokenize and /detokenize, parsed against a served model
// with a small byte-level BPE tokenizer that knows the DeepSeek special tokens and a DeepSeek chat
// template. Input: byte 0 picks the endpoint (% 4: chat, completions, tokenize, detokenize) and, in
// bits 2-3, the template (0: R1, 1: V3, 2: none, 3: R1 with a short context); the rest is the body.
// Every body must either parse into a request the engine can run (a non-empty prompt of ids inside
// the vocabulary that leaves room for max_tokens in the context, parameters in their ranges) or be
// refused with ApiError (400, or 404 for an unknown model) whose OpenAI error JSON serialises as
// UTF-8; any other exception escapes and libFuzzer reports it. Never a crash, a leak or undefined
// behaviour.

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "server/api_error.h"
#include "server/openai_request.h"
#include "testing/tiny_tokenizer.h"

namespace {

using nlohmann::json;
using namespace mla::server;

struct Model {
  std::unique_ptr<mla::Tokenizer> tok;
  mla::ChatTemplate r1 = mla::ChatTemplate::builtin(mla::ChatFamily::DeepseekR1, kBos, kEos);
  mla::ChatTemplate v3 = mla::ChatTemplate::builtin(mla::ChatFamily::DeepseekV3, kBos, kEos);
  static constexpr const char* kBos = "<｜begin▁of▁sentence｜>";
  static constexpr const char* kEos = "<｜end▁of▁sentence｜>";

  Model() {
    json j = mla::testing::tiny_tokenizer({{"Ġ", "t"}, {"h", "e"}, {"Ġt", "he"}, {"i", "n"}, {"a", "t"}, {"Ġ", "a"}});
    int32_t id = 300;
    for (const char* special : {kBos, kEos, "<｜User｜>", "<｜Assistant｜>"})
      j["added_tokens"].push_back(mla::testing::added_token(special, id++));
    j["added_tokens"].push_back(mla::testing::added_token("<think>", id++, false));
    j["added_tokens"].push_back(mla::testing::added_token("</think>", id++, false));
    tok = mla::Tokenizer::from_json(j, "fuzz tokenizer.json");
  }
};

void check_ids(const std::vector<int32_t>& ids, const ServedModel& served) {
  for (int32_t id : ids)
    if (id < 0 || id >= served.vocab_size) std::abort();
}

void check_request(const ApiRequest& r, const ServedModel& served) {
  const mla::RequestParams& p = r.params;
  if (p.prompt.empty()) std::abort();
  check_ids(p.prompt, served);
  if (p.max_tokens < 1 || static_cast<int64_t>(p.prompt.size()) + p.max_tokens > served.max_context) std::abort();
  if (r.n < 1 || r.n > kMaxN) std::abort();
  if (p.stop.size() > static_cast<size_t>(kMaxStop)) std::abort();
  for (const std::string& s : p.stop)
    if (s.empty() || s.size() > 256) std::abort();
  const mla::SamplingParams& s = p.sampling;
  if (!(s.temperature >= 0 && s.temperature <= 2) || !(s.top_p > 0 && s.top_p <= 1) || !(s.min_p >= 0 && s.min_p <= 1))
    std::abort();
  if (s.top_k < 0 || s.top_k > served.vocab_size) std::abort();
  if (!std::isfinite(s.presence_penalty) || !std::isfinite(s.frequency_penalty) || !(s.repetition_penalty > 0))
    std::abort();
  if (p.top_logprobs < -1 || p.top_logprobs > kMaxTopLogprobs || r.logprobs != (p.top_logprobs >= 0)) std::abort();
  if (r.include_usage && !r.stream) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Model model;
  if (size == 0) return 0;
  const int endpoint = data[0] % 4, which = (data[0] >> 2) % 4;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);

  ServedModel served;
  served.name = "fuzz";
  served.tok = model.tok.get();
  served.chat = which == 1 ? &model.v3 : which == 2 ? nullptr : &model.r1;
  served.vocab_size = model.tok->vocab_size();
  served.max_context = which == 3 ? 8 : 512;
  served.bos_id = model.tok->token_id(Model::kBos);
  try {
    switch (endpoint) {
      case 0: check_request(parse_openai_request(Endpoint::Chat, body, served), served); break;
      case 1: check_request(parse_openai_request(Endpoint::Completions, body, served), served); break;
      case 2: check_ids(parse_tokenize_request(body, served), served); break;
      default: check_ids(parse_detokenize_request(body, served), served); break;
    }
  } catch (const ApiError& e) {
    if (e.status != 400 && e.status != 404) std::abort();
    if (std::string_view(e.what()).empty()) std::abort();
    // The answer the server sends: it must serialise without replacing anything (valid UTF-8).
    (void)error_json(e).dump();
  }
  return 0;
}
