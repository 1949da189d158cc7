// The block arena of a paged KV cache: the rows of every block of every sequence in one allocation,
//   [n_layers x n_blocks x block_tokens x row_bytes]
// so block id b of layer l starts at layer_base(l) + b * block_stride(). Block id b names the same
// slot in every layer: a sequence's block table maps its token j to block table[j / block_tokens]
// in all layers at once. The arena only hands out storage by id; which ids are free, shared or
// cached is its owner's business (the serving engine's block manager).
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/huge_buffer.h"
#include "kv/kv_accounting.h"

namespace mla {

class KvBlockArena {
 public:
  // row_width values per token per layer, stored in `dtype` (kernels/cache_rows.h). Pages are only
  // touched as rows are written, so a large arena costs no resident memory until used.
  KvBlockArena(int64_t n_layers, int64_t row_width, int64_t n_blocks, int64_t block_tokens, kv::CacheDtype dtype);

  // Whole blocks a budget of `bytes` holds (floor; 0 when not even one fits).
  static int64_t blocks_for_budget(size_t bytes, int64_t n_layers, int64_t row_width, int64_t block_tokens,
                                   kv::CacheDtype dtype);

  int64_t n_layers() const { return n_layers_; }
  int64_t row_width() const { return row_width_; }
  int64_t n_blocks() const { return n_blocks_; }
  int64_t block_tokens() const { return block_tokens_; }
  kv::CacheDtype dtype() const { return dtype_; }
  size_t row_bytes() const { return row_bytes_; }                          // kv::row_bytes(row_width, dtype)
  size_t block_stride() const { return block_tokens_ * row_bytes_; }      // bytes of one block in one layer
  size_t bytes_per_block() const { return n_layers_ * block_stride(); }   // one block id, all layers
  size_t total_bytes() const { return n_blocks_ * bytes_per_block(); }

  uint8_t* layer_base(int64_t layer) { return data_.get() + layer * n_blocks_ * block_stride(); }
  const uint8_t* layer_base(int64_t layer) const { return data_.get() + layer * n_blocks_ * block_stride(); }
  // Row r (< block_tokens) of block id b in `layer`.
  uint8_t* row(int64_t layer, int64_t block, int64_t r) { return layer_base(layer) + block * block_stride() + r * row_bytes_; }
  const uint8_t* row(int64_t layer, int64_t block, int64_t r) const {
    return layer_base(layer) + block * block_stride() + r * row_bytes_;
  }

 private:
  int64_t n_layers_, row_width_, n_blocks_, block_tokens_;
  kv::CacheDtype dtype_;
  size_t row_bytes_;
  HugeBuffer<uint8_t> data_;
};

}  // namespace mla
