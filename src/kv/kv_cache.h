// The KV cache: per layer and token one row of `row_width` floats, allocated once for the whole
// context. What a row holds depends on the attention variant that owns it:
//   MLA:          [c_kv (kv_lora_rank) ; k_pe (qk_rope_head_dim)]   the normalised latent and the
//                 RoPE-rotated shared key (DeepSeek-V2 paper eq. 9-10, sec. 2.1.3), nothing else;
//                 absorbed attention reads it as an MQA cache whose V is a prefix view of K.
//   MHA/GQA/MQA:  [K (n_head_kv x head_dim) ; V (n_head_kv x head_dim)]
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/huge_buffer.h"

namespace mla {

class KvCache {
 public:
  KvCache(int64_t n_layers, int64_t row_width, int64_t max_tokens);

  int64_t n_layers() const { return n_layers_; }
  int64_t row_width() const { return row_width_; }
  int64_t max_tokens() const { return max_tokens_; }
  int64_t n_tokens() const { return n_tokens_; }
  // Tokens whose rows are filled; the model advances it after a forward pass.
  void set_n_tokens(int64_t n);
  void clear() { n_tokens_ = 0; }

  float* row(int64_t layer, int64_t token) {
    return data_.get() + (static_cast<size_t>(layer) * max_tokens_ + token) * row_width_;
  }
  const float* row(int64_t layer, int64_t token) const {
    return data_.get() + (static_cast<size_t>(layer) * max_tokens_ + token) * row_width_;
  }

  static constexpr size_t kBytesPerValue = sizeof(float);
  size_t bytes_per_token() const { return static_cast<size_t>(n_layers_) * row_width_ * kBytesPerValue; }
  size_t bytes_used() const { return bytes_per_token() * static_cast<size_t>(n_tokens_); }

 private:
  int64_t n_layers_, row_width_, max_tokens_;
  int64_t n_tokens_ = 0;
  HugeBuffer<float> data_;  // [n_layers x max_tokens x row_width]
};

}  // namespace mla
