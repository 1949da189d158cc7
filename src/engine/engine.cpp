// The serving engine's thread and scheduler. See engine.h for what a step does; the policy:
//   admission  FIFO; a request is admitted when the blocks for its whole current token list (minus
//              the prefix found in the cache) are free and fewer than max_running run.
//   decode     every running sequence that has sampled a token feeds it, one batched forward pass.
//   prefill    up to prefill_chunk prompt tokens per step, oldest request first, so decoding
//              sequences wait at most one chunk.
//   preemption when a decoding sequence needs a block and none is free, the most recently admitted
//              sequence gives all its blocks back and returns to the front of the queue; its tokens
//              so far are recomputed when it is admitted again (vLLM's "recompute" preemption).
#include "engine/engine.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "engine/logprobs.h"
#include "engine/sequence.h"
#include "kv/block_manager.h"
#include "kv/kv_blocks.h"

namespace mla {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

struct Engine::Impl {
  Impl(Model& m, const Tokenizer& t, const EngineOptions& o) : model(m), tok(t), opts(o) {
    const ModelConfig& cfg = model.config();
    if (opts.max_context <= 0) opts.max_context = cfg.max_position_embeddings;
    if (opts.block_tokens <= 0 || opts.max_running <= 0 || opts.max_queue < 0 || opts.prefill_chunk <= 0)
      fail("serving engine: block_tokens, max_running and prefill_chunk must be >= 1 and max_queue >= 0");
    // The budget is for the whole cache, every layer. Under a pipeline split (docs/DISTRIBUTED.md)
    // this process stores only its stage's layers of each block and the other ranks the rest, under
    // the same block ids: the blocks, and so the scheduling, are those of one process.
    const int64_t n_layers = cfg.num_hidden_layers, row_width = model.cache_row_width();
    const int64_t n_blocks =
        KvBlockArena::blocks_for_budget(opts.kv_mem_bytes, n_layers, row_width, opts.block_tokens, opts.kv_type);
    if (n_blocks < 1)
      fail("--kv-mem ", opts.kv_mem_bytes, " bytes holds no cache block of ", opts.block_tokens,
           " tokens for this model");
    arena = std::make_shared<KvBlockArena>(model.stage().n_layers(), row_width, n_blocks, opts.block_tokens, opts.kv_type);
    block_bytes = static_cast<size_t>(n_layers) * arena->block_stride();
    blocks = std::make_unique<BlockManager>(n_blocks, opts.block_tokens);
    eos.assign(cfg.eos_token_ids.begin(), cfg.eos_token_ids.end());
    if (cfg.eos_token_id) eos.push_back(*cfg.eos_token_id);
    logits.resize(static_cast<size_t>(cfg.vocab_size));
    publish_metrics();
    worker = std::thread([this] { run(); });
  }

  ~Impl() { stop(); }

  void stop() {
    {
      std::lock_guard lock(mu);
      stopping = true;
    }
    cv.notify_all();
    if (worker.joinable()) worker.join();
  }

  // ---- called from any thread

  uint64_t submit(RequestParams p, EventSink sink) {
    const ModelConfig& cfg = model.config();
    const int64_t n = static_cast<int64_t>(p.prompt.size());
    if (n == 0) fail("the prompt is empty");
    for (int32_t id : p.prompt)
      if (id < 0 || id >= cfg.vocab_size) fail("prompt token id ", id, " is outside the vocabulary of ", cfg.vocab_size);
    if (p.max_tokens < 1) fail("max_tokens must be >= 1, got ", p.max_tokens);
    if (p.top_logprobs < -1 || p.top_logprobs > 20) fail("top_logprobs must be in [0, 20], got ", p.top_logprobs);
    if (n > opts.max_context || p.max_tokens > opts.max_context - n)
      fail("this model's maximum context length is ", opts.max_context, " tokens; the request has ", n,
           " prompt tokens and asks for ", p.max_tokens, " more");
    const int64_t need = ceil_div(n + p.max_tokens, opts.block_tokens);
    if (need > blocks->n_blocks())
      fail("the request needs ", need, " KV cache blocks (", n + p.max_tokens, " tokens); the whole cache has ",
           blocks->n_blocks());
    static_cast<void>(Sampler(p.sampling));  // throws on invalid sampling parameters here, not on the engine thread
    std::unique_lock lock(mu);
    if (stopping) throw EngineStopped("the engine has stopped: the server is shutting down");
    if (static_cast<int64_t>(waiting.size()) >= opts.max_queue) {
      ++rejected;
      fail_queue_full();
    }
    const uint64_t id = next_id++;
    KvCache cache(arena, n + p.max_tokens);
    waiting.push_back(std::make_unique<Sequence>(id, std::move(p), std::move(sink), tok, std::move(cache)));
    ++submitted;
    lock.unlock();
    cv.notify_all();
    return id;
  }

  [[noreturn]] void fail_queue_full() {
    throw QueueFull(str("the server is busy: ", opts.max_queue, " requests are already waiting"));
  }

  void cancel(uint64_t id) {
    {
      std::lock_guard lock(mu);
      cancels.insert(id);
    }
    cv.notify_all();
  }

  EngineMetrics metrics() const {
    std::lock_guard lock(metrics_mu);
    return snapshot;
  }

  std::vector<EngineSecond> history() const {
    std::lock_guard lock(metrics_mu);
    return {seconds.begin(), seconds.end()};
  }

  // ---- the engine thread

  void run() {
    for (;;) {
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return stopping || !waiting.empty() || !running.empty() || !cancels.empty(); });
        if (stopping) break;
      }
      try {
        step();
      } catch (const std::exception& e) {
        fail_all(e.what());  // a model error is nobody's request's fault: end them all, keep serving
      }
      publish_metrics();
    }
    std::deque<std::unique_ptr<Sequence>> rest;
    {
      std::lock_guard lock(mu);
      rest.swap(waiting);
    }
    for (auto& s : rest) finish(*s, "cancelled");
    for (auto& s : running) finish(*s, "cancelled");
    running.clear();
  }

  void step() {
    end_cancelled_and_expired();
    admit();
    decode();
    prefill();
  }

  void end_cancelled_and_expired() {
    std::unordered_set<uint64_t> ids;
    std::deque<std::unique_ptr<Sequence>> dropped;
    const auto now = Sequence::Clock::now();
    {
      std::lock_guard lock(mu);
      ids.swap(cancels);
      for (auto it = waiting.begin(); it != waiting.end();) {
        if (ids.count((*it)->id) || (*it)->deadline <= now) {
          dropped.push_back(std::move(*it));
          it = waiting.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& s : dropped) finish(*s, ids.count(s->id) ? "cancelled" : "timeout");
    for (auto& s : running)
      if (ids.count(s->id)) finish(*s, "cancelled");
      else if (s->deadline <= now) finish(*s, "timeout");
    remove_finished();
  }

  void admit() {
    for (;;) {
      std::unique_ptr<Sequence> s;
      {
        std::lock_guard lock(mu);
        if (waiting.empty() || static_cast<int64_t>(running.size()) >= opts.max_running) return;
        s = std::move(waiting.front());
        waiting.pop_front();
      }
      if (!try_allocate(*s)) {
        std::lock_guard lock(mu);
        waiting.push_front(std::move(s));
        return;
      }
      running.push_back(std::move(s));
    }
  }

  // Gives `s` blocks for all its tokens: cached prefix blocks first (at least one token is always
  // computed, so its block is private), then fresh ones. False, holding nothing, when too few are free.
  bool try_allocate(Sequence& s) {
    const int64_t B = opts.block_tokens, n = static_cast<int64_t>(s.tokens.size());
    std::vector<uint64_t> hashes;
    const std::vector<int32_t> hit = blocks->match_prefix(s.tokens, (n - 1) / B, hashes);
    const int64_t fresh = ceil_div(n, B) - static_cast<int64_t>(hit.size());
    if (blocks->free_blocks() < fresh) {
      for (int32_t id : hit) blocks->release(id);
      return false;
    }
    auto& table = s.cache.block_table();
    table = hit;
    for (int64_t i = 0; i < fresh; ++i) table.push_back(blocks->allocate());
    s.block_hashes = hashes;
    const int64_t cached = static_cast<int64_t>(hit.size()) * B;
    s.cache.set_n_tokens(cached);
    if (s.n_generated() == 0) {
      s.cached_prompt_tokens = cached;
      prefix_hit_tokens += static_cast<uint64_t>(cached);
    }
    s.prefilled = false;
    return true;
  }

  // Blocks back to the manager; the sequence keeps its tokens and returns to the queue's front.
  void preempt(Sequence& s) {
    release_blocks(s);
    s.prefilled = false;
    ++preemptions;
  }

  void release_blocks(Sequence& s) {
    for (int32_t id : s.cache.block_table()) blocks->release(id);
    s.cache.block_table().clear();
    s.block_hashes.clear();
    s.cache.set_n_tokens(0);
  }

  // Publishes the full blocks whose tokens are all in the cache, so later requests can share them.
  void publish_full_blocks(Sequence& s) {
    const int64_t B = opts.block_tokens;
    const int64_t full = s.cache.n_tokens() / B;
    while (static_cast<int64_t>(s.block_hashes.size()) < full) {
      const size_t i = s.block_hashes.size();
      const uint64_t parent = i == 0 ? BlockManager::kRootHash : s.block_hashes[i - 1];
      const auto block = std::span<const int32_t>(s.tokens).subspan(i * static_cast<size_t>(B), static_cast<size_t>(B));
      s.block_hashes.push_back(blocks->publish(s.cache.block_table()[i], parent, block));
    }
  }

  void decode() {
    // Every decoding sequence needs a slot for the token it feeds; preempt the newest when short.
    for (size_t i = 0; i < running.size(); ++i) {
      Sequence& s = *running[i];
      if (!s.decoding()) continue;
      const int64_t B = opts.block_tokens;
      if (s.cache.n_tokens() < static_cast<int64_t>(s.cache.block_table().size()) * B) continue;
      while (blocks->free_blocks() == 0) {
        Sequence* victim = newest_holding_blocks();
        preempt(*victim);
        if (victim == &s) break;
      }
      if (s.prefilled) s.cache.block_table().push_back(blocks->allocate());
    }
    requeue_preempted();

    std::vector<Sequence*> batch;
    for (auto& s : running)
      if (s->decoding()) batch.push_back(s.get());
    if (batch.empty()) return;
    const int64_t V = model.config().vocab_size;
    std::vector<int32_t> ids;
    std::vector<KvCache*> caches;
    for (Sequence* s : batch) {
      ids.push_back(s->tokens.back());
      caches.push_back(&s->cache);
    }
    batch_logits.resize(batch.size() * static_cast<size_t>(V));
    model.decode_batch(ids, caches, opts.attn, batch_logits.data());
    for (size_t b = 0; b < batch.size(); ++b) {
      publish_full_blocks(*batch[b]);
      sample(*batch[b], std::span<float>(batch_logits.data() + b * V, static_cast<size_t>(V)));
    }
    remove_finished();
  }

  Sequence* newest_holding_blocks() {
    for (auto it = running.rbegin(); it != running.rend(); ++it)
      if (!(*it)->cache.block_table().empty()) return it->get();
    fail("KV cache: no block to free");  // unreachable: the caller holds blocks itself
  }

  // Preempted sequences (no blocks) go back to the front of the queue, oldest first.
  void requeue_preempted() {
    std::vector<std::unique_ptr<Sequence>> back;
    for (auto& s : running)
      if (s->cache.block_table().empty()) back.push_back(std::move(s));
    if (back.empty()) return;
    running.erase(std::remove(running.begin(), running.end(), nullptr), running.end());
    std::lock_guard lock(mu);
    for (auto it = back.rbegin(); it != back.rend(); ++it) waiting.push_front(std::move(*it));
  }

  // A prompt is cut at multiples of prefill_chunk from its first token, and each piece takes the
  // attention path of its whole aligned chunk (as if no prefix of it were shared), whatever else
  // runs: every prompt row then goes the same way alone and among other requests, and the paths'
  // roundings differ (the bf16 flash prefill, kernels/flash_prefill.h). A chunk that does not fit
  // the step's budget waits for the next step.
  void prefill() {
    const int64_t C = opts.prefill_chunk;
    int64_t budget = C;
    for (auto& sp : running) {
      Sequence& s = *sp;
      if (s.prefilled || budget == 0) continue;
      const int64_t done = s.cache.n_tokens(), n = static_cast<int64_t>(s.tokens.size());
      const int64_t start = done - done % C, end = std::min(start + C, n), chunk = end - done;
      if (chunk > budget) continue;
      model.forward(std::span<const int32_t>(s.tokens).subspan(static_cast<size_t>(done), static_cast<size_t>(chunk)),
                    s.cache, model.resolve_attn(opts.attn, end - start, start), false, logits.data());
      budget -= chunk;
      prompt_tokens += static_cast<uint64_t>(chunk);
      publish_full_blocks(s);
      if (done + chunk == n) {
        s.prefilled = true;
        // The cache now holds every token; the sampled one is fed by the next decode step.
        sample(s, logits);
      }
    }
    remove_finished();
  }

  // Samples the next token of `s` from its logits and streams it; finishes `s` when it ends.
  void sample(Sequence& s, std::span<float> l) {
    // The sampler edits the logits (penalties, temperature): log-probabilities come from a copy.
    if (s.params.top_logprobs >= 0) raw_logits.assign(l.begin(), l.end());
    const int32_t id = s.sampler.sample(l, s.tokens, static_cast<size_t>(s.prompt_len));
    if (!s.params.ignore_eos && std::find(eos.begin(), eos.end(), id) != eos.end()) {
      finish(s, "stop");
      return;
    }
    s.tokens.push_back(id);
    ++generated;
    RequestEvent ev;
    ev.text = s.text.push(id);
    ev.tokens.push_back(s.params.top_logprobs >= 0 ? token_logprobs(raw_logits, id, s.params.top_logprobs)
                                                   : TokenInfo{id, 0, {}});
    if (s.text.stopped())
      finish(s, "stop", std::move(ev));
    else if (s.n_generated() >= s.params.max_tokens)
      finish(s, "length", std::move(ev));
    else
      s.sink(std::move(ev));
  }

  // ---- ending requests

  // The last event of `s` (with any text still held back); marks it finished (sink cleared).
  void finish(Sequence& s, const char* reason, RequestEvent ev = {}) {
    release_blocks(s);
    ev.text += s.text.finish();
    ev.finished = true;
    ev.finish_reason = reason;
    ev.prompt_tokens = s.prompt_len;
    ev.cached_prompt_tokens = s.cached_prompt_tokens;
    ev.completion_tokens = s.n_generated();
    if (std::string_view(reason) == "cancelled") ++cancelled;
    ++finished;
    s.sink(std::move(ev));
    s.sink = nullptr;  // marks it finished
  }

  void remove_finished() {
    running.erase(std::remove_if(running.begin(), running.end(), [](const auto& s) { return !s->sink; }),
                  running.end());
  }

  void fail_all(const std::string& what) {
    for (auto& s : running) {
      if (!s->sink) continue;
      RequestEvent ev;
      ev.error = what;
      finish(*s, "error", std::move(ev));
    }
    remove_finished();
  }

  void publish_metrics() {
    const auto now = Sequence::Clock::now();
    EngineMetrics m;
    {
      std::lock_guard lock(mu);
      m.queue_depth = static_cast<int64_t>(waiting.size());
      m.requests_submitted = submitted;
      m.requests_rejected = rejected;
    }
    m.requests_finished = finished;
    m.requests_cancelled = cancelled;
    m.prompt_tokens = prompt_tokens;
    m.generated_tokens = generated;
    m.prefix_cache_hit_tokens = prefix_hit_tokens;
    m.preemptions = preemptions;
    m.running = static_cast<int64_t>(running.size());
    m.kv_blocks_total = blocks->n_blocks();
    m.kv_blocks_used = blocks->used_blocks();
    m.kv_blocks_free = blocks->free_blocks();
    m.kv_blocks_cached = blocks->cached_free_blocks();
    m.kv_blocks_shared = blocks->shared_blocks();
    m.kv_bytes_total = static_cast<size_t>(m.kv_blocks_total) * block_bytes;
    m.kv_bytes_used = static_cast<size_t>(m.kv_blocks_used) * block_bytes;
    m.kv_type = arena->dtype();
    m.kv_block_tokens = arena->block_tokens();
    m.kv_bytes_per_token = block_bytes / static_cast<size_t>(arena->block_tokens());
    // Generation rate over a window of at least a second.
    const double dt = std::chrono::duration<double>(now - rate_since).count();
    if (dt >= 1.0) {
      rate = static_cast<double>(generated - rate_tokens) / dt;
      rate_since = now;
      rate_tokens = generated;
    }
    m.generate_tokens_per_second = rate;
    const int64_t unix_s =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    std::lock_guard lock(metrics_mu);
    snapshot = m;
    if (seconds.empty() || seconds.back().unix_seconds != unix_s) {
      seconds.push_back(EngineSecond{unix_s});
      // Older than the window go, but the latest of those stays: its last values held on into it.
      while (seconds.size() > 1 && seconds[1].unix_seconds <= unix_s - Engine::history_seconds) seconds.pop_front();
    }
    EngineSecond& s = seconds.back();
    auto record = [](auto& max, auto& last, auto value) {
      max = std::max(max, value);
      last = value;
    };
    record(s.kv_bytes_used_max, s.kv_bytes_used_last, m.kv_bytes_used);
    record(s.kv_blocks_used_max, s.kv_blocks_used_last, m.kv_blocks_used);
    record(s.kv_blocks_shared_max, s.kv_blocks_shared_last, m.kv_blocks_shared);
    record(s.running_max, s.running_last, m.running);
    record(s.queue_depth_max, s.queue_depth_last, m.queue_depth);
  }

  Model& model;
  const Tokenizer& tok;
  EngineOptions opts;
  std::shared_ptr<KvBlockArena> arena;  // this process's layers (all of them unless a pipeline stage)
  size_t block_bytes = 0;               // one block id, every layer (every rank's share together)
  std::unique_ptr<BlockManager> blocks;
  std::vector<int32_t> eos;
  std::vector<float> logits, batch_logits, raw_logits;

  // Shared with submit/cancel (mu).
  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<std::unique_ptr<Sequence>> waiting;
  std::unordered_set<uint64_t> cancels;
  uint64_t next_id = 1, submitted = 0, rejected = 0;
  bool stopping = false;

  // Engine thread only.
  std::vector<std::unique_ptr<Sequence>> running;
  uint64_t finished = 0, cancelled = 0, prompt_tokens = 0, generated = 0, prefix_hit_tokens = 0, preemptions = 0;
  Sequence::Clock::time_point rate_since = Sequence::Clock::now();
  uint64_t rate_tokens = 0;
  double rate = 0;

  mutable std::mutex metrics_mu;
  EngineMetrics snapshot;
  std::deque<EngineSecond> seconds;  // history(): one entry per second with a step

  std::thread worker;  // last: starts after everything above exists
};

Engine::Engine(Model& model, const Tokenizer& tokenizer, const EngineOptions& opts)
    : impl_(std::make_unique<Impl>(model, tokenizer, opts)) {}
Engine::~Engine() = default;
void Engine::stop() { impl_->stop(); }
uint64_t Engine::submit(RequestParams params, EventSink sink) { return impl_->submit(std::move(params), std::move(sink)); }
void Engine::cancel(uint64_t id) { impl_->cancel(id); }
EngineMetrics Engine::metrics() const { return impl_->metrics(); }
std::vector<EngineSecond> Engine::history() const { return impl_->history(); }
int64_t Engine::max_context() const {
  return std::min(impl_->opts.max_context, impl_->blocks->n_blocks() * impl_->opts.block_tokens);
}

}  // namespace mla
