// The serving engine: many requests decoded together over one paged latent cache drawn from a fixed
// memory budget (continuous batching). One engine thread runs steps; between steps requests join
// (admission while cache blocks are free), leave (finished, cancelled, timed out) or are preempted
// (blocks freed, recomputed later) when running sequences outgrow the cache. Each step decodes every
// running sequence in one batched forward pass and prefills at most `prefill_chunk` prompt tokens,
// so a long prompt never stalls the others. Full cache blocks are shared between requests with the
// same token prefix (hash of the prefix), reference counted and evicted least-recently-used.
//
// The HTTP layer (src/server) talks only to this interface.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "kv/kv_accounting.h"
#include "model/model.h"
#include "sample/sampler.h"
#include "tokenizer/tokenizer.h"

namespace mla {

struct TopLogprob {
  int32_t id;
  float logprob;
};

// One generated token. Log-probabilities are of the model's own distribution (log-softmax of the raw
// logits, before penalties, temperature and filters), as vLLM reports them.
struct TokenInfo {
  int32_t id = 0;
  float logprob = 0;
  std::vector<TopLogprob> top;  // the `top_logprobs` most likely tokens, most likely first
};

struct RequestParams {
  std::vector<int32_t> prompt;    // at least one token
  int64_t max_tokens = 16;        // >= 1; prompt + max_tokens must fit the engine's context
  SamplingParams sampling;
  std::vector<std::string> stop;  // generation ends before the first occurrence of any of these
  bool ignore_eos = false;
  int32_t top_logprobs = -1;      // -1: no log-probabilities; 0..20: chosen token's plus this many
  double timeout_seconds = 0;     // 0: none; otherwise the request ends with finish_reason "timeout"
};

// What a request's sink receives, in order; the last event has finished = true.
struct RequestEvent {
  std::string text;                // text completed since the last event: whole UTF-8 characters,
                                   // a possible stop-string prefix held back, a stop string cut
  std::vector<TokenInfo> tokens;   // tokens released with this event
  bool finished = false;
  std::string finish_reason;       // when finished: "stop" | "length" | "cancelled" | "timeout" | "error"
  std::string error;               // when finish_reason is "error"
  int64_t prompt_tokens = 0;       // when finished: prompt length
  int64_t cached_prompt_tokens = 0;  // when finished: prompt tokens served from the prefix cache
  int64_t completion_tokens = 0;   // when finished: tokens generated
};

// Called on the engine thread; must return quickly (hand the event to the connection's thread).
using EventSink = std::function<void(RequestEvent&&)>;

struct EngineOptions {
  size_t kv_mem_bytes = size_t{1} << 30;          // the whole cache, all layers, every sequence
  kv::CacheDtype kv_type = kv::CacheDtype::BF16;  // element format of cached rows
  int64_t block_tokens = 16;                      // tokens per cache block
  int64_t max_running = 64;                       // sequences decoded per step at most
  int64_t max_queue = 256;                        // waiting requests beyond this are refused (QueueFull)
  int64_t prefill_chunk = 256;                    // prompt tokens prefilled per step at most
  int64_t max_context = 0;                        // 0: the model's max_position_embeddings
  AttnMode attn = AttnMode::Auto;
};

struct EngineMetrics {
  uint64_t requests_submitted = 0, requests_finished = 0, requests_cancelled = 0, requests_rejected = 0;
  uint64_t prompt_tokens = 0, generated_tokens = 0;
  uint64_t prefix_cache_hit_tokens = 0, preemptions = 0;
  double generate_tokens_per_second = 0;  // over the last few seconds
  int64_t queue_depth = 0, running = 0;
  int64_t kv_blocks_used = 0, kv_blocks_total = 0;
  int64_t kv_blocks_free = 0;    // total - used; includes the cached ones
  int64_t kv_blocks_cached = 0;  // free, but still holding a published prefix (found by a later request)
  int64_t kv_blocks_shared = 0;  // used by more than one running sequence (a shared prefix, stored once)
  // The whole cache, every layer (under a pipeline split: every rank's share together).
  size_t kv_bytes_used = 0, kv_bytes_total = 0;
  // The cache's fixed layout: element format, tokens per block, bytes per token (all layers, as
  // stored: n_layers x kv::row_bytes(row width, kv_type)).
  kv::CacheDtype kv_type = kv::CacheDtype::BF16;
  int64_t kv_block_tokens = 0;
  size_t kv_bytes_per_token = 0;
};

// One second of the engine's cache use: the largest values its steps published in that second, and
// the last (what holds until the next step). Engine::history() keeps the last few minutes of them.
struct EngineSecond {
  int64_t unix_seconds = 0;
  size_t kv_bytes_used_max = 0, kv_bytes_used_last = 0;
  int64_t kv_blocks_used_max = 0, kv_blocks_used_last = 0;
  int64_t kv_blocks_shared_max = 0, kv_blocks_shared_last = 0;
  int64_t running_max = 0, running_last = 0;
  int64_t queue_depth_max = 0, queue_depth_last = 0;
};

// submit() refuses a request because the waiting queue is full (HTTP 429).
class QueueFull : public Error {
 public:
  using Error::Error;
};
// submit() refuses a request because the engine has stopped (HTTP 503).
class EngineStopped : public Error {
 public:
  using Error::Error;
};

class Engine {
 public:
  // Starts the engine thread. The model and tokenizer must outlive the engine.
  Engine(Model& model, const Tokenizer& tokenizer, const EngineOptions& opts);
  ~Engine();  // stop()
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Cancels everything still queued or running and joins the engine thread once its step in
  // progress is done: the model is not used any more (it may be destroyed first), while the engine
  // still answers metrics() and history(), and submit() throws EngineStopped. For a clean shutdown
  // with clients still connected. Idempotent; call it from one thread.
  void stop();

  // Queues a request and returns its id. Throws mla::Error with a message fit for the client when
  // the request can never run (empty prompt, out-of-vocabulary id, prompt + max_tokens beyond the
  // context, more cache than the whole budget, invalid sampling parameters), QueueFull when the
  // queue is full. Thread-safe.
  uint64_t submit(RequestParams params, EventSink sink);
  // Ends a queued or running request; its cache blocks are free before the next step. Its sink gets
  // a final event with finish_reason "cancelled" unless it already finished. Thread-safe; unknown
  // or finished ids are ignored.
  void cancel(uint64_t id);

  EngineMetrics metrics() const;  // thread-safe
  // The seconds of the last `history_seconds` (300) in which the engine ran a step, oldest first,
  // and the latest one before them: a second missing between two entries was idle (the values
  // stayed the earlier one's last). A burst shorter than a second shows in its maxima. Thread-safe.
  std::vector<EngineSecond> history() const;
  static constexpr int64_t history_seconds = 300;
  // The longest sequence (prompt + max_tokens) a request may ask for: the model's context, or the
  // whole cache budget when that holds fewer tokens.
  int64_t max_context() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mla
