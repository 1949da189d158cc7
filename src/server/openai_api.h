// The OpenAI-compatible API over the engine: routing, API-key check, and the endpoints
//   POST /v1/chat/completions, POST /v1/completions  (streaming or not, n choices)
//   GET /v1/models, GET /health, GET /metrics, POST /tokenize, POST /detokenize
//   GET /cache (the chat page's cache panel, server/cache_stats.h)
//   GET / and its files (the chat page, server/web_assets.h)
// Errors are OpenAI error objects with a 4xx/5xx status. A client that disconnects has its
// requests cancelled in the engine (their cache freed).
#pragma once
#include <atomic>
#include <string>

#include "engine/engine.h"
#include "server/cache_stats.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/openai_request.h"

namespace mla::server {

class OpenAiApi {
 public:
  // api_key: "" for none; otherwise every endpoint except /health and the chat page's static files
  // needs "Authorization: Bearer KEY" (the page asks for the key and sends it with every call).
  explicit OpenAiApi(std::string api_key) : api_key_(std::move(api_key)) {}

  // Until this is called every endpoint answers 503 (/health: {"status": "loading"}). The engine
  // and everything `served` points at must outlive this object.
  void set_ready(Engine& engine, const ServedModel& served);

  void handle(const HttpRequest& req, Responder& out);
  void count_status(int status);

 private:
  void route(const HttpRequest& req, Responder& out);
  void generate(Endpoint endpoint, const HttpRequest& req, Responder& out);
  bool authorized(const HttpRequest& req) const;

  std::string api_key_;
  std::atomic<bool> ready_{false};
  Engine* engine_ = nullptr;
  ServedModel served_;
  int64_t created_ = 0;
  HttpCounters counters_;
  CacheFacts cache_facts_;
};

}  // namespace mla::server
