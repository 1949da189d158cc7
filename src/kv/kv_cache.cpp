#include "kv/kv_cache.h"

#include "core/error.h"

namespace mla {

KvCache::KvCache(int64_t n_layers, int64_t row_width, int64_t max_tokens)
    : n_layers_(n_layers), row_width_(row_width), max_tokens_(max_tokens) {
  if (n_layers <= 0 || row_width <= 0 || max_tokens <= 0)
    fail("KV cache: invalid shape (layers ", n_layers, ", row width ", row_width, ", tokens ", max_tokens, ")");
  // Pages are only touched as tokens arrive, so reserving the whole context costs no resident memory.
  data_ = make_huge_buffer<float>(static_cast<size_t>(n_layers) * max_tokens * row_width);
}

void KvCache::set_n_tokens(int64_t n) {
  if (n < 0 || n > max_tokens_) fail("KV cache: ", n, " tokens exceed the context of ", max_tokens_);
  n_tokens_ = n;
}

}  // namespace mla
