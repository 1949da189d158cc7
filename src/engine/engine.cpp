// A simple, correct implementation of engine.h (the paged, batched scheduler replaces its
// internals): one engine thread; requests admitted FIFO while their whole cache (prompt +
// max_tokens rows) fits the budget; each running request owns a contiguous KvCache. Each step
// decodes every running sequence in one Model::decode_batch, then prefills one admitted prompt in
// one forward pass.
#include "engine/engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>

#include "engine/generate.h"

namespace mla {
namespace {

using Clock = std::chrono::steady_clock;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// log-softmax of raw logits [vocab]: the chosen token's log-probability and the `top` best.
TokenInfo token_info(std::span<const float> logits, int32_t id, int32_t top, std::vector<int32_t>& order) {
  const float mx = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float v : logits) sum += std::exp(static_cast<double>(v) - mx);
  const double lse = mx + std::log(sum);
  TokenInfo t;
  t.id = id;
  t.logprob = static_cast<float>(logits[id] - lse);
  if (top > 0) {
    order.resize(logits.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
    const size_t k = std::min<size_t>(top, order.size());
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    for (size_t i = 0; i < k; ++i) t.top.push_back({order[i], static_cast<float>(logits[order[i]] - lse)});
  }
  return t;
}

}  // namespace

struct Engine::Impl {
  struct Seq {
    uint64_t id;
    RequestParams params;
    EventSink sink;
    std::optional<Clock::time_point> deadline;
    std::optional<KvCache> cache;  // allocated at admission: prompt + max_tokens rows
    std::optional<Sampler> sampler;
    std::optional<StreamDecoder> decoder;
    std::vector<int32_t> history;  // prompt + generated
    std::string pending;           // decoded text held back (possible stop-string prefix)
    std::vector<TokenInfo> unreleased;
    int64_t generated = 0, reserved_blocks = 0;
    int32_t next_input = -1;       // the last sampled token, fed at the next decode step
    bool prefilled = false;
  };

  Model& model;
  const Tokenizer& tok;
  EngineOptions opts;
  int64_t context = 0, vocab = 0;
  size_t bytes_per_token = 0;
  int64_t blocks_total = 0;

  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<std::unique_ptr<Seq>> queue;      // guarded by mu
  std::unordered_set<uint64_t> cancels;        // guarded by mu
  std::list<std::unique_ptr<Seq>> running;     // engine thread only (sizes mirrored in metrics)
  EngineMetrics m;                             // guarded by mu
  std::deque<std::pair<Clock::time_point, int64_t>> recent;  // guarded by mu: tokens per step
  uint64_t next_id = 1;
  bool stopping = false;
  std::vector<float> logits, raw;  // engine thread scratch: prefill logits [vocab], raw logits [vocab]
  std::vector<int32_t> order;
  std::thread thread;

  Impl(Model& md, const Tokenizer& t, const EngineOptions& o) : model(md), tok(t), opts(o) {
    const ModelConfig& cfg = model.config();
    context = o.max_context > 0 ? o.max_context : cfg.max_position_embeddings;
    if (context <= 0) fail("engine: the model's context length is unknown; give max_context");
    if (o.block_tokens < 1) fail("engine: block_tokens must be >= 1");
    if (o.max_running < 1) fail("engine: max_running must be >= 1");
    if (o.max_queue < 0) fail("engine: max_queue must be >= 0");
    vocab = cfg.vocab_size;
    bytes_per_token = model.make_cache(1).bytes_per_token();
    blocks_total = static_cast<int64_t>(o.kv_mem_bytes / (bytes_per_token * o.block_tokens));
    if (blocks_total < 1) fail("engine: --kv-mem ", o.kv_mem_bytes, " B holds no cache block of ", o.block_tokens, " tokens");
    m.kv_blocks_total = blocks_total;
    m.kv_bytes_total = static_cast<size_t>(blocks_total) * o.block_tokens * bytes_per_token;
    thread = std::thread([this] { loop(); });
  }

  ~Impl() {
    {
      std::lock_guard lk(mu);
      stopping = true;
    }
    cv.notify_all();
    thread.join();
  }

  bool is_eos(int32_t id) const {
    const ModelConfig& cfg = model.config();
    return (cfg.eos_token_id && id == *cfg.eos_token_id) ||
           std::find(cfg.eos_token_ids.begin(), cfg.eos_token_ids.end(), id) != cfg.eos_token_ids.end();
  }

  void validate(const RequestParams& p) const {
    if (p.prompt.empty()) fail("the prompt is empty");
    for (int32_t id : p.prompt)
      if (id < 0 || id >= vocab) fail("prompt token id ", id, " is out of range for vocab size ", vocab);
    if (p.max_tokens < 1) fail("max_tokens must be >= 1, got ", p.max_tokens);
    const int64_t need = static_cast<int64_t>(p.prompt.size()) + p.max_tokens;
    if (p.max_tokens > context || need > context)
      fail("prompt (", p.prompt.size(), " tokens) + max_tokens (", p.max_tokens, ") exceed the context of ", context,
           " tokens");
    if (ceil_div(need, opts.block_tokens) > blocks_total)
      fail("prompt + max_tokens (", need, " tokens) need more cache than the whole budget (",
           blocks_total * opts.block_tokens, " tokens)");
    if (p.top_logprobs < -1 || p.top_logprobs > 20) fail("top_logprobs must be in [0, 20], got ", p.top_logprobs);
    if (!(p.timeout_seconds >= 0) || !std::isfinite(p.timeout_seconds)) fail("timeout must be >= 0 seconds");
    for (const auto& s : p.stop)
      if (s.empty()) fail("a stop string is empty");
    Sampler check(p.sampling);  // throws naming the first invalid sampling parameter
  }

  uint64_t submit(RequestParams p, EventSink sink) {
    validate(p);
    auto s = std::make_unique<Seq>();
    s->reserved_blocks = ceil_div(static_cast<int64_t>(p.prompt.size()) + p.max_tokens, opts.block_tokens);
    if (p.timeout_seconds > 0)
      s->deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(p.timeout_seconds));
    s->params = std::move(p);
    s->sink = std::move(sink);
    uint64_t id;
    {
      std::lock_guard lk(mu);
      if (static_cast<int64_t>(queue.size()) >= opts.max_queue) {
        ++m.requests_rejected;
        throw QueueFull(str("the server is busy: ", queue.size(), " requests are waiting"));
      }
      id = s->id = next_id++;
      ++m.requests_submitted;
      m.prompt_tokens += s->params.prompt.size();
      queue.push_back(std::move(s));
      m.queue_depth = static_cast<int64_t>(queue.size());
    }
    cv.notify_all();
    return id;
  }

  void cancel(uint64_t id) {
    {
      std::lock_guard lk(mu);
      cancels.insert(id);
    }
    cv.notify_all();
  }

  // The final event; the sequence is dropped (and its cache freed) by the caller.
  void finish(Seq& s, const std::string& reason, const std::string& error = {}) {
    RequestEvent ev;
    if (reason == "stop" || reason == "length") {  // release what was held back
      if (s.decoder) s.pending += s.decoder->flush();
      ev.text = std::move(s.pending);
      ev.tokens = std::move(s.unreleased);
    }
    ev.finished = true;
    ev.finish_reason = reason;
    ev.error = error;
    ev.prompt_tokens = static_cast<int64_t>(s.params.prompt.size());
    ev.completion_tokens = s.generated;
    {
      std::lock_guard lk(mu);
      ++m.requests_finished;
      if (reason == "cancelled") ++m.requests_cancelled;
    }
    s.sink(std::move(ev));
  }

  // Samples the next token of `s` from its logits [vocab]; returns false when `s` finished.
  bool advance(Seq& s, float* lg) {
    std::span<float> logits_span(lg, static_cast<size_t>(vocab));
    // The sampler rewrites the logits in place (penalties, temperature): keep the raw ones.
    if (s.params.top_logprobs >= 0) raw.assign(logits_span.begin(), logits_span.end());
    const int32_t id = s.sampler->sample(logits_span, s.history, s.params.prompt.size());
    if (!s.params.ignore_eos && is_eos(id)) {
      finish(s, "stop");
      return false;
    }
    ++s.generated;
    s.history.push_back(id);
    {
      std::lock_guard lk(mu);
      ++m.generated_tokens;
      recent.emplace_back(Clock::now(), 1);
    }
    s.pending += s.decoder->push(id);
    if (s.params.top_logprobs >= 0) s.unreleased.push_back(token_info(raw, id, s.params.top_logprobs, order));
    const size_t at = find_stop(s.pending, s.params.stop);
    if (at != std::string::npos) {
      s.pending.resize(at);
      s.decoder.reset();  // nothing after the stop string is released
      finish(s, "stop");
      return false;
    }
    if (s.generated == s.params.max_tokens) {
      finish(s, "length");
      return false;
    }
    const size_t safe = stop_safe_length(s.pending, s.params.stop);
    if (safe > 0 || !s.unreleased.empty()) {
      RequestEvent ev;
      ev.text = s.pending.substr(0, safe);
      s.pending.erase(0, safe);
      ev.tokens = std::move(s.unreleased);
      s.unreleased.clear();
      s.sink(std::move(ev));
    }
    s.next_input = id;
    return true;
  }

  void loop() {
    logits.resize(static_cast<size_t>(vocab));
    for (;;) {
      {
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return stopping || !queue.empty() || !running.empty() || !cancels.empty(); });
        if (stopping) break;
      }
      step();
    }
    // Shutdown: everything still queued or running ends cancelled.
    std::deque<std::unique_ptr<Seq>> rest;
    {
      std::lock_guard lk(mu);
      rest.swap(queue);
    }
    for (auto& s : rest) finish(*s, "cancelled");
    for (auto& s : running) finish(*s, "cancelled");
    running.clear();
  }

  int64_t used_reserved() const {
    int64_t n = 0;
    for (const auto& s : running) n += s->reserved_blocks;
    return n;
  }

  void step() {
    // Leave: cancelled requests (queued or running) and timed-out ones. Cancels naming neither are
    // for finished or unknown requests and are dropped.
    const auto now = Clock::now();
    std::unordered_set<uint64_t> to_cancel;
    std::vector<std::unique_ptr<Seq>> dropped;  // queued requests that end before running
    std::vector<std::string> dropped_reason;
    {
      std::lock_guard lk(mu);
      for (const auto& s : running)
        if (cancels.count(s->id)) to_cancel.insert(s->id);
      for (auto it = queue.begin(); it != queue.end();) {
        const bool cancelled = cancels.count((*it)->id) > 0;
        if (cancelled || ((*it)->deadline && now >= *(*it)->deadline)) {
          dropped_reason.push_back(cancelled ? "cancelled" : "timeout");
          dropped.push_back(std::move(*it));
          it = queue.erase(it);
        } else {
          ++it;
        }
      }
      cancels.clear();
      m.queue_depth = static_cast<int64_t>(queue.size());
    }
    for (size_t i = 0; i < dropped.size(); ++i) finish(*dropped[i], dropped_reason[i]);
    for (auto it = running.begin(); it != running.end();) {
      Seq& s = **it;
      if (to_cancel.count(s.id)) {
        finish(s, "cancelled");
        it = running.erase(it);
      } else if (s.deadline && now >= *s.deadline) {
        finish(s, "timeout");
        it = running.erase(it);
      } else {
        ++it;
      }
    }
    // Join: FIFO while the head of the queue fits the budget and the running limit.
    {
      std::unique_lock lk(mu);
      int64_t used = used_reserved();
      while (!queue.empty() && static_cast<int64_t>(running.size()) < opts.max_running &&
             used + queue.front()->reserved_blocks <= blocks_total) {
        used += queue.front()->reserved_blocks;
        running.push_back(std::move(queue.front()));
        queue.pop_front();
      }
      m.queue_depth = static_cast<int64_t>(queue.size());
    }
    // Decode every prefilled sequence in one batched forward pass: logits [B x vocab].
    std::vector<Seq*> batch;
    for (auto& s : running)
      if (s->prefilled) batch.push_back(s.get());
    if (!batch.empty()) {
      std::vector<int32_t> tokens;
      std::vector<KvCache*> caches;
      for (Seq* s : batch) {
        tokens.push_back(s->next_input);
        caches.push_back(&*s->cache);
      }
      std::vector<float> batch_logits(batch.size() * static_cast<size_t>(vocab));
      try {
        model.decode_batch(tokens, caches, opts.attn, batch_logits.data());
        std::unordered_set<Seq*> done;
        for (size_t b = 0; b < batch.size(); ++b)
          if (!advance(*batch[b], batch_logits.data() + b * vocab)) done.insert(batch[b]);
        running.remove_if([&](const std::unique_ptr<Seq>& s) { return done.count(s.get()) > 0; });
      } catch (const std::exception& e) {
        for (Seq* s : batch) finish(*s, "error", e.what());
        running.remove_if([](const std::unique_ptr<Seq>& s) { return s->prefilled; });
      }
    }
    // Prefill one admitted prompt.
    for (auto it = running.begin(); it != running.end(); ++it) {
      Seq& s = **it;
      if (s.prefilled) continue;
      try {
        const int64_t need = static_cast<int64_t>(s.params.prompt.size()) + s.params.max_tokens;
        s.cache.emplace(model.make_cache(need));
        s.sampler.emplace(s.params.sampling);
        s.decoder.emplace(tok);
        s.history = s.params.prompt;
        model.forward(s.params.prompt, *s.cache, opts.attn, false, logits.data());
        s.prefilled = true;
        if (!advance(s, logits.data())) running.erase(it);
      } catch (const std::exception& e) {
        finish(s, "error", e.what());
        running.erase(it);
      }
      break;
    }
    update_metrics();
  }

  void update_metrics() {
    int64_t blocks = 0;
    size_t bytes = 0;
    for (const auto& s : running)
      if (s->cache) {
        blocks += ceil_div(s->cache->n_tokens(), opts.block_tokens);
        bytes += s->cache->bytes_used();
      }
    std::lock_guard lk(mu);
    m.running = static_cast<int64_t>(running.size());
    m.kv_blocks_used = blocks;
    m.kv_bytes_used = bytes;
    const auto now = Clock::now();
    while (!recent.empty() && now - recent.front().first > std::chrono::seconds(5)) recent.pop_front();
    int64_t n = 0;
    for (const auto& r : recent) n += r.second;
    const double span = recent.empty() ? 0 : std::chrono::duration<double>(now - recent.front().first).count();
    m.generate_tokens_per_second = span > 0 ? n / span : 0;
  }
};

Engine::Engine(Model& model, const Tokenizer& tokenizer, const EngineOptions& opts)
    : impl_(std::make_unique<Impl>(model, tokenizer, opts)) {}
Engine::~Engine() = default;

uint64_t Engine::submit(RequestParams params, EventSink sink) { return impl_->submit(std::move(params), std::move(sink)); }
void Engine::cancel(uint64_t id) { impl_->cancel(id); }

EngineMetrics Engine::metrics() const {
  std::lock_guard lk(impl_->mu);
  return impl_->m;
}
int64_t Engine::max_context() const { return impl_->context; }

}  // namespace mla
