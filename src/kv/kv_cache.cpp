#include "kv/kv_cache.h"

#include "core/error.h"
#include "kernels/cache_rows.h"

namespace mla {

KvCache::KvCache(int64_t n_layers, int64_t row_width, int64_t max_tokens, kv::CacheDtype dtype) : max_tokens_(max_tokens) {
  if (n_layers <= 0 || row_width <= 0 || max_tokens <= 0)
    fail("KV cache: invalid shape (layers ", n_layers, ", row width ", row_width, ", tokens ", max_tokens, ")");
  arena_ = std::make_shared<KvBlockArena>(n_layers, row_width, 1, max_tokens, dtype);
  table_ = {0};
}

KvCache::KvCache(std::shared_ptr<KvBlockArena> arena, int64_t max_tokens) : arena_(std::move(arena)), max_tokens_(max_tokens) {
  if (!arena_) fail("KV cache: no block arena");
  if (max_tokens <= 0) fail("KV cache: invalid context of ", max_tokens, " tokens");
}

void KvCache::set_n_tokens(int64_t n) {
  if (n < 0 || n > max_tokens_) fail("KV cache: ", n, " tokens exceed the context of ", max_tokens_);
  n_tokens_ = n;
}

void KvCache::check_covered(int64_t tokens) const {
  const int64_t B = block_tokens(), need = (tokens + B - 1) / B;
  if (static_cast<int64_t>(table_.size()) < need)
    fail("KV cache: ", tokens, " tokens need ", need, " blocks of ", B, " but the block table has ", table_.size());
  for (int64_t i = 0; i < need; ++i)
    if (table_[i] < 0 || table_[i] >= arena_->n_blocks())
      fail("KV cache: block table entry ", i, " is ", table_[i], ", outside the arena's ", arena_->n_blocks(), " blocks");
}

uint8_t* KvCache::row_ptr(int64_t layer, int64_t token) const {
  if (layer < 0 || layer >= n_layers() || token < 0 || token >= max_tokens_)
    fail("KV cache: row (layer ", layer, ", token ", token, ") outside ", n_layers(), " layers x ", max_tokens_, " tokens");
  const int64_t B = block_tokens(), j = token / B;
  if (j >= static_cast<int64_t>(table_.size()) || table_[j] < 0 || table_[j] >= arena_->n_blocks())
    fail("KV cache: token ", token, " has no valid block in the block table (", table_.size(), " entries)");
  return arena_->row(layer, table_[j], token % B);
}

void KvCache::write_row(int64_t layer, int64_t token, const float* values) {
  encode_cache_row(dtype(), values, row_width(), row_ptr(layer, token));
}

void KvCache::read_row(int64_t layer, int64_t token, float* out) const {
  decode_cache_values(dtype(), row_ptr(layer, token), 0, row_width(), out);
}

KvLayout KvCache::layout(int64_t layer, int64_t tokens, int64_t k_offset, int64_t k_head_stride, int64_t v_offset,
                         int64_t v_head_stride) const {
  if (layer < 0 || layer >= n_layers()) fail("KV cache: layer ", layer, " outside ", n_layers(), " layers");
  if (tokens > max_tokens_) fail("KV cache: ", tokens, " tokens exceed the context of ", max_tokens_);
  check_covered(tokens);
  KvLayout kv;
  kv.base = arena_->layer_base(layer);
  kv.dtype = dtype();
  kv.row_width = row_width();
  kv.row_bytes = static_cast<int64_t>(arena_->row_bytes());
  kv.block_tokens = block_tokens();
  kv.block_bytes = static_cast<int64_t>(arena_->block_stride());
  kv.block_table = table_.data();
  kv.k_offset = k_offset;
  kv.k_head_stride = k_head_stride;
  kv.v_offset = v_offset;
  kv.v_head_stride = v_head_stride;
  return kv;
}

}  // namespace mla
