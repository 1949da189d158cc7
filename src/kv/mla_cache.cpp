#include "kv/mla_cache.h"

#include "core/error.h"

namespace mla {

MlaCache::MlaCache(int64_t n_layers, int64_t kv_lora_rank, int64_t rope_dim, int64_t max_tokens)
    : n_layers_(n_layers), kv_lora_rank_(kv_lora_rank), rope_dim_(rope_dim), max_tokens_(max_tokens) {
  if (n_layers <= 0 || kv_lora_rank <= 0 || rope_dim < 0 || max_tokens <= 0)
    fail("MLA cache: invalid shape (layers ", n_layers, ", kv_lora_rank ", kv_lora_rank, ", rope ", rope_dim,
         ", tokens ", max_tokens, ")");
  // Pages are only touched as tokens arrive, so reserving the whole context costs no resident memory.
  data_.reset(new float[static_cast<size_t>(n_layers) * max_tokens * row_width()]);
}

void MlaCache::set_n_tokens(int64_t n) {
  if (n < 0 || n > max_tokens_) fail("MLA cache: ", n, " tokens exceed the context of ", max_tokens_);
  n_tokens_ = n;
}

}  // namespace mla
