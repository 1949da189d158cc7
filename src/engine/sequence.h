// One request inside the serving engine: its tokens, its view of the paged cache, its sampler and
// text stream. Owned by the engine thread; nothing here is shared.
#pragma once
#include <chrono>
#include <cstdint>
#include <vector>

#include "engine/engine.h"
#include "engine/text_stream.h"
#include "kv/kv_cache.h"

namespace mla {

struct Sequence {
  using Clock = std::chrono::steady_clock;

  Sequence(uint64_t id, RequestParams p, EventSink s, const Tokenizer& tok, KvCache c)
      : id(id),
        params(std::move(p)),
        sink(std::move(s)),
        tokens(params.prompt),
        prompt_len(static_cast<int64_t>(params.prompt.size())),
        cache(std::move(c)),
        sampler(params.sampling),
        text(tok, params.stop),
        deadline(params.timeout_seconds > 0
                     ? Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(params.timeout_seconds))
                     : Clock::time_point::max()) {}

  int64_t n_generated() const { return static_cast<int64_t>(tokens.size()) - prompt_len; }
  // Tokens the cache must hold before the next token can be sampled: all of them while prefilling;
  // while decoding, all but the last sampled one, which the next decode step feeds.
  bool decoding() const { return prefilled && cache.n_tokens() + 1 == static_cast<int64_t>(tokens.size()); }

  uint64_t id;
  RequestParams params;
  EventSink sink;
  std::vector<int32_t> tokens;  // prompt, then generated ids (EOS never appended)
  int64_t prompt_len;
  KvCache cache;                // block table: shared prefix blocks first, then private ones
  std::vector<uint64_t> block_hashes;  // chain hash of each published full block, in table order
  bool prefilled = false;       // false again after preemption: tokens so far are recomputed
  int64_t cached_prompt_tokens = 0;
  Sampler sampler;
  TextStream text;
  Clock::time_point deadline;
};

}  // namespace mla
