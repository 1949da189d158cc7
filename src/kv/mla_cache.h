// The MLA latent cache (DeepSeek-V2 paper, eq. 9-10 and sec. 2.1.3): per layer and token it holds
// exactly kv_lora_rank + qk_rope_head_dim values, the RMS-normalised latent c_kv followed by the
// RoPE-rotated shared key k_pe, and nothing else between steps.
//   layer l, token t: row(l, t)[0 : kv_lora_rank]               = c_kv
//                     row(l, t)[kv_lora_rank : kv_lora_rank+rope] = k_pe
// Attention reads it as an MQA cache with 576-wide keys (the whole row) and 512-wide values (a prefix
// view of the same row) at DeepSeek's shapes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

namespace mla {

class MlaCache {
 public:
  MlaCache(int64_t n_layers, int64_t kv_lora_rank, int64_t rope_dim, int64_t max_tokens);

  int64_t kv_lora_rank() const { return kv_lora_rank_; }
  int64_t rope_dim() const { return rope_dim_; }
  int64_t row_width() const { return kv_lora_rank_ + rope_dim_; }
  int64_t max_tokens() const { return max_tokens_; }
  int64_t n_tokens() const { return n_tokens_; }
  // Tokens whose rows are filled; the model advances it after a forward pass.
  void set_n_tokens(int64_t n);
  void clear() { n_tokens_ = 0; }

  float* row(int64_t layer, int64_t token) {
    return data_.get() + (static_cast<size_t>(layer) * max_tokens_ + token) * row_width();
  }
  const float* row(int64_t layer, int64_t token) const {
    return data_.get() + (static_cast<size_t>(layer) * max_tokens_ + token) * row_width();
  }

  static constexpr size_t kBytesPerValue = sizeof(float);
  size_t bytes_per_token() const { return static_cast<size_t>(n_layers_) * row_width() * kBytesPerValue; }
  size_t bytes_used() const { return bytes_per_token() * static_cast<size_t>(n_tokens_); }
  size_t bytes_reserved() const { return bytes_per_token() * static_cast<size_t>(max_tokens_); }

 private:
  int64_t n_layers_, kv_lora_rank_, rope_dim_, max_tokens_;
  int64_t n_tokens_ = 0;
  std::unique_ptr<float[]> data_;  // [n_layers x max_tokens x row_width]
};

}  // namespace mla
