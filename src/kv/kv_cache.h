// The KV cache of one sequence: per layer and token one row of `row_width` values, stored in a
// KvBlockArena in the arena's element type and found through a block table (token j lives in row
// j % block_tokens of block block_table[j / block_tokens], in every layer). What a row holds depends
// on the attention variant that owns it:
//   MLA:          [c_kv (kv_lora_rank) ; k_pe (qk_rope_head_dim)]   the normalised latent and the
//                 RoPE-rotated shared key (DeepSeek-V2 paper eq. 9-10, sec. 2.1.3), nothing else;
//                 absorbed attention reads it as an MQA cache whose V is a prefix view of K.
//   MHA/GQA/MQA:  [K (n_head_kv x head_dim) ; V (n_head_kv x head_dim)]
// Models write rows as f32 (write_row converts) and the attention core reads them through layout().
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/attention.h"
#include "kv/kv_blocks.h"

namespace mla {

class KvCache {
 public:
  // A private arena holding the whole context as one block (the block table is {0}), allocated once.
  KvCache(int64_t n_layers, int64_t row_width, int64_t max_tokens, kv::CacheDtype dtype = kv::CacheDtype::F32);
  // A view into a shared arena: the table starts empty and its owner fills it (block j holds tokens
  // [j * block_tokens, (j + 1) * block_tokens)) before rows of those tokens are written or read.
  KvCache(std::shared_ptr<KvBlockArena> arena, int64_t max_tokens);
  KvCache(KvCache&&) = default;
  KvCache& operator=(KvCache&&) = default;
  KvCache(const KvCache&) = delete;  // two views writing the same blocks must be explicit
  KvCache& operator=(const KvCache&) = delete;

  int64_t n_layers() const { return arena_->n_layers(); }
  int64_t row_width() const { return arena_->row_width(); }
  kv::CacheDtype dtype() const { return arena_->dtype(); }
  int64_t max_tokens() const { return max_tokens_; }
  int64_t n_tokens() const { return n_tokens_; }
  // Tokens whose rows are filled; the model advances it after a forward pass.
  void set_n_tokens(int64_t n);
  void clear() { n_tokens_ = 0; }

  int64_t block_tokens() const { return arena_->block_tokens(); }
  std::vector<int32_t>& block_table() { return table_; }
  const std::vector<int32_t>& block_table() const { return table_; }
  const KvBlockArena& arena() const { return *arena_; }

  // Stores values[row_width] as token `token`'s row of `layer`, converted to the cache dtype.
  void write_row(int64_t layer, int64_t token, const float* values);
  // out[row_width] = that row as f32 (exact for f32; the stored rounding for the others).
  void read_row(int64_t layer, int64_t token, float* out) const;

  // The attention core's view of `layer`'s rows (offsets in values; see KvLayout) for reading rows
  // [0, tokens). Checks that the block table covers them with valid block ids.
  KvLayout layout(int64_t layer, int64_t tokens, int64_t k_offset, int64_t k_head_stride, int64_t v_offset,
                  int64_t v_head_stride) const;

  // Bytes per token, all layers: n_layers x kv::row_bytes(row_width, dtype), as `mla kv` counts.
  size_t bytes_per_token() const { return static_cast<size_t>(n_layers()) * arena_->row_bytes(); }
  size_t bytes_used() const { return bytes_per_token() * static_cast<size_t>(n_tokens_); }

 private:
  uint8_t* row_ptr(int64_t layer, int64_t token) const;  // checked
  void check_covered(int64_t tokens) const;

  std::shared_ptr<KvBlockArena> arena_;
  std::vector<int32_t> table_;
  int64_t max_tokens_;
  int64_t n_tokens_ = 0;
};

}  // namespace mla
