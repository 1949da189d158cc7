#include "server/openai_api.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>

#include "server/openai_response.h"
#include "server/reasoning_split.h"
#include "server/web_assets.h"

namespace mla::server {
namespace {

using nlohmann::json;

constexpr const char* kJson = "application/json";

// Events of one HTTP request's n engine requests, handed from the engine thread to the
// connection's thread. Shared with the sinks, which may outlive the handler (late cancel events).
struct Inbox {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<int, RequestEvent>> events;  // (choice index, event)

  bool pop(std::pair<int, RequestEvent>& out, std::chrono::milliseconds wait) {
    std::unique_lock lk(mu);
    if (!cv.wait_for(lk, wait, [&] { return !events.empty(); })) return false;
    out = std::move(events.front());
    events.pop_front();
    return true;
  }
};

// Comparison in time independent of where the strings differ, so response timing does not
// reveal how much of a key matched (only whether the lengths match).
bool same_secret(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// One choice's progress through a response.
struct ChoiceState {
  explicit ChoiceState(bool opened_think) : splitter(opened_think) {}
  ReasoningSplitter splitter;
  ChoiceText whole;  // non-streaming: the reply so far
  bool finished = false, started = false;
  int64_t text_offset = 0;
};

}  // namespace

void OpenAiApi::set_ready(Engine& engine, const ServedModel& served) {
  engine_ = &engine;
  served_ = served;
  cache_facts_ = cache_facts(served.kv_shape, engine.metrics().kv_type);
  created_ = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                 .count();
  ready_ = true;
}

void OpenAiApi::count_status(int status) {
  ++counters_.requests;
  if (status >= 400 && status < 500) ++counters_.client_errors;
  if (status >= 500) ++counters_.server_errors;
}

bool OpenAiApi::authorized(const HttpRequest& req) const {
  return api_key_.empty() || same_secret(req.authorization, "Bearer " + api_key_);
}

void OpenAiApi::handle(const HttpRequest& req, Responder& out) {
  try {
    route(req, out);
  } catch (const ApiError& e) {
    out.send(e.status, kJson, dump(error_json(e)));
  } catch (const Error& e) {
    out.send(400, kJson, dump(error_json(e.what(), "invalid_request_error", "", "")));
  } catch (const std::exception& e) {
    out.send(500, kJson, dump(error_json(e.what(), "server_error", "", "internal_error")));
  }
}

void OpenAiApi::route(const HttpRequest& req, Responder& out) {
  struct Route {
    const char* method;
    const char* path;
  };
  static const Route routes[] = {{"GET", "/health"},          {"GET", "/v1/models"},
                                 {"GET", "/metrics"},         {"POST", "/v1/chat/completions"},
                                 {"POST", "/v1/completions"}, {"POST", "/tokenize"},
                                 {"POST", "/detokenize"},     {"GET", "/cache"}};
  const Route* found = nullptr;
  for (const Route& r : routes)
    if (req.path == r.path) found = &r;
  if (!found) {
    // The chat page: static files holding no data, served without a key (as /health is) so a
    // browser can open it; everything the page shows comes from the endpoints above, key and all.
    const WebAsset* asset = find_web_asset(req.path);
    if (!asset) throw ApiError(404, "no such endpoint: " + req.path, "", "not_found");
    if (req.method != "GET")
      throw ApiError(405, req.method + " is not allowed on " + req.path + " (use GET)", "", "method_not_allowed");
    out.send(200, asset->content_type, asset->body);
    return;
  }
  if (req.method != found->method)
    throw ApiError(405, req.method + " is not allowed on " + req.path + " (use " + found->method + ")", "",
                   "method_not_allowed");
  if (req.path == "/health") {
    out.send(ready_ ? 200 : 503, kJson, ready_ ? R"({"status":"ok"})" : R"({"status":"loading"})");
    return;
  }
  if (!authorized(req))
    throw ApiError(401, "invalid or missing API key (Authorization: Bearer KEY)", "", "invalid_api_key");
  if (!ready_) throw ApiError(503, "the model is still loading", "", "model_loading", "server_error");

  if (req.path == "/v1/models") {
    const json model = {{"id", served_.name}, {"object", "model"},     {"created", created_},
                        {"owned_by", "mla"},  {"max_model_len", served_.max_context}};
    out.send(200, kJson, dump({{"object", "list"}, {"data", json::array({model})}}));
  } else if (req.path == "/metrics") {
    out.send(200, "text/plain; version=0.0.4", prometheus_text(engine_->metrics(), counters_, &cache_facts_));
  } else if (req.path == "/cache") {
    // History first: the snapshot taken after it is at least as recent as its last second.
    const std::vector<EngineSecond> history = engine_->history();
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
    out.send(200, kJson, cache_json(served_.name, cache_facts_, engine_->metrics(), history, now).dump());
  } else if (req.path == "/tokenize") {
    const std::vector<int32_t> ids = parse_tokenize_request(req.body, served_);
    out.send(200, kJson, dump({{"tokens", ids}, {"count", ids.size()}, {"max_model_len", served_.max_context}}));
  } else if (req.path == "/detokenize") {
    const std::vector<int32_t> ids = parse_detokenize_request(req.body, served_);
    out.send(200, kJson, dump({{"prompt", served_.tok->decode(ids)}}));
  } else {
    generate(req.path == "/v1/chat/completions" ? Endpoint::Chat : Endpoint::Completions, req, out);
  }
}

void OpenAiApi::generate(Endpoint endpoint, const HttpRequest& req, Responder& out) {
  const ApiRequest ar = parse_openai_request(endpoint, req.body, served_);
  auto inbox = std::make_shared<Inbox>();
  std::vector<uint64_t> ids;
  auto cancel_all = [&] {
    for (uint64_t id : ids) engine_->cancel(id);
  };
  // n choices: n engine requests with seeds seed, seed + 1, ...
  try {
    for (int i = 0; i < ar.n; ++i) {
      RequestParams p = ar.params;
      p.sampling.seed += static_cast<uint64_t>(i);
      ids.push_back(engine_->submit(std::move(p), [inbox, i](RequestEvent&& ev) {
        {
          std::lock_guard lk(inbox->mu);
          inbox->events.emplace_back(i, std::move(ev));
        }
        inbox->cv.notify_one();
      }));
    }
  } catch (const QueueFull& e) {
    cancel_all();
    throw ApiError(429, e.what(), "", "queue_full", "server_error");
  } catch (const EngineStopped& e) {
    cancel_all();
    throw ApiError(503, e.what(), "", "shutting_down", "server_error");
  } catch (const Error& e) {
    cancel_all();
    throw ApiError(400, e.what());
  }

  const ResponseMeta meta = make_meta(endpoint, served_.name);
  std::vector<ChoiceState> choices(ar.n, ChoiceState(ar.opened_think));
  Usage usage;
  int finished = 0;
  auto gone = [&] {
    cancel_all();
    ++counters_.disconnects;
  };
  if (ar.stream && !out.begin_events()) return gone();
  std::pair<int, RequestEvent> item;
  while (finished < ar.n) {
    if (out.client_gone()) return gone();
    if (!inbox->pop(item, std::chrono::milliseconds(50))) continue;
    auto& [index, ev] = item;
    ChoiceState& c = choices[index];
    if (ev.finished && (ev.finish_reason == "error" || ev.finish_reason == "cancelled")) {
      cancel_all();
      const std::string msg = ev.finish_reason == "error" ? "generation failed: " + ev.error : "the request was cancelled";
      if (!ar.stream) throw ApiError(500, msg, "", "internal_error", "server_error");
      out.event(dump(error_json(msg, "server_error", "", "internal_error")));
      out.end_events();
      return;
    }
    ChoiceText delta;
    if (ar.reasoning) {
      ReasoningSplitter::Piece piece = c.splitter.push(ev.text);
      if (ev.finished) {
        ReasoningSplitter::Piece rest = c.splitter.flush();
        piece.reasoning += rest.reasoning;
        piece.content += rest.content;
      }
      delta.reasoning = std::move(piece.reasoning);
      delta.content = std::move(piece.content);
    } else {
      delta.content = std::move(ev.text);
    }
    delta.tokens = std::move(ev.tokens);
    if (ev.finished) {
      delta.finish_reason = ev.finish_reason;
      c.finished = true;
      ++finished;
      usage.prompt_tokens = ev.prompt_tokens;
      usage.cached_tokens = ev.cached_prompt_tokens;
      usage.completion_tokens += ev.completion_tokens;
    }
    if (ar.stream) {
      if (delta.content.empty() && delta.reasoning.empty() && delta.tokens.empty() && !delta.finish_reason) continue;
      delta.first = !c.started;
      c.started = true;
      if (!out.event(dump(chunk_json(meta, index, delta, ar.logprobs, *served_.tok, c.text_offset)))) return gone();
    } else {
      c.whole.content += delta.content;
      c.whole.reasoning += delta.reasoning;
      c.whole.tokens.insert(c.whole.tokens.end(), delta.tokens.begin(), delta.tokens.end());
      c.whole.finish_reason = delta.finish_reason;
    }
  }
  if (ar.stream) {
    if (ar.include_usage && !out.event(dump(usage_chunk_json(meta, usage)))) return gone();
    if (!out.event("[DONE]")) return gone();
    out.end_events();
    return;
  }
  std::vector<ChoiceText> whole;
  for (ChoiceState& c : choices) whole.push_back(std::move(c.whole));
  out.send(200, kJson, dump(response_json(meta, whole, ar.logprobs, *served_.tok, usage)));
}

}  // namespace mla::server
