#include "kv/kv_blocks.h"

#include "core/error.h"

namespace mla {

KvBlockArena::KvBlockArena(int64_t n_layers, int64_t row_width, int64_t n_blocks, int64_t block_tokens,
                           kv::CacheDtype dtype)
    : n_layers_(n_layers), row_width_(row_width), n_blocks_(n_blocks), block_tokens_(block_tokens), dtype_(dtype) {
  if (n_layers <= 0 || row_width <= 0 || n_blocks <= 0 || block_tokens <= 0)
    fail("KV block arena: invalid shape (layers ", n_layers, ", row width ", row_width, ", blocks ", n_blocks,
         ", block tokens ", block_tokens, ")");
  row_bytes_ = kv::row_bytes(static_cast<uint64_t>(row_width), dtype);
  const uint64_t total = kv::context_bytes(
      kv::context_bytes(kv::context_bytes(row_bytes_, static_cast<uint64_t>(block_tokens)), static_cast<uint64_t>(n_layers)),
      static_cast<uint64_t>(n_blocks));
  data_ = make_huge_buffer<uint8_t>(total);
}

int64_t KvBlockArena::blocks_for_budget(size_t bytes, int64_t n_layers, int64_t row_width, int64_t block_tokens,
                                        kv::CacheDtype dtype) {
  if (n_layers <= 0 || row_width <= 0 || block_tokens <= 0)
    fail("KV block arena: invalid shape (layers ", n_layers, ", row width ", row_width, ", block tokens ",
         block_tokens, ")");
  const uint64_t per_block = kv::context_bytes(
      kv::context_bytes(kv::row_bytes(static_cast<uint64_t>(row_width), dtype), static_cast<uint64_t>(block_tokens)),
      static_cast<uint64_t>(n_layers));
  return static_cast<int64_t>(bytes / per_block);
}

}  // namespace mla
