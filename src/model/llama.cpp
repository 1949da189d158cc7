// The Llama forward pass over a chunk of rows, and binding its weights by Hugging Face name.
#include "model/llama.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "model/row_batches.h"
#include "model/weight_binder.h"

namespace mla {
namespace {

template <class T>
T* grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

}  // namespace

std::vector<double> llama_rope_inv_freq(const ModelConfig& cfg) {
  const int64_t d = cfg.head_dim, half = d / 2;
  std::vector<double> inv(half);
  for (int64_t i = 0; i < half; ++i)
    inv[i] = 1.0 / std::pow(cfg.rope_theta, static_cast<double>(2 * i) / static_cast<double>(d));
  if (!cfg.rope_freq_factors.empty()) {  // llama.cpp: theta_i = pos * base^(-2i/d) / factor_i
    for (int64_t i = 0; i < half; ++i) inv[i] /= cfg.rope_freq_factors[i];
    return inv;
  }
  if (!cfg.rope_scaling || cfg.rope_scaling->type != RopeType::Llama3) return inv;

  // llama3: long wavelengths (beyond original / low_freq_factor) are interpolated by `factor`,
  // short ones (below original / high_freq_factor) kept, and the band between blended smoothly.
  const RopeScaling& s = *cfg.rope_scaling;
  const double orig = static_cast<double>(s.original_max_position_embeddings);
  const double low_wavelen = orig / s.low_freq_factor, high_wavelen = orig / s.high_freq_factor;
  for (double& f : inv) {
    const double wavelen = 2.0 * M_PI / f;
    if (wavelen < high_wavelen) continue;
    if (wavelen > low_wavelen) {
      f /= s.factor;
    } else {
      const double smooth = (orig / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      f = (1.0 - smooth) * f / s.factor + smooth * f;
    }
  }
  return inv;
}

LlamaModel::LlamaModel(ModelConfig cfg, std::unique_ptr<WeightSource> weights, ThreadPool& pool,
                       const LoadProgress& progress, const Stage& stage)
    : cfg_(std::move(cfg)), weights_(std::move(weights)), pool_(pool) {
  if (!cfg_.is_llama()) fail("LlamaModel: architecture ", cfg_.architecture, " is not LlamaForCausalLM");
  const int64_t D = cfg_.hidden_size, H = cfg_.num_attention_heads, Hkv = cfg_.num_key_value_heads,
                hd = cfg_.head_dim;
  if (H <= 0 || Hkv <= 0 || H % Hkv != 0 || hd <= 0 || hd % 2 != 0)
    fail("Llama config: ", H, " heads, ", Hkv, " kv heads, head_dim ", hd,
         " (kv heads must divide heads, head_dim must be even)");
  stage_ = stage.resolved(cfg_.num_hidden_layers);
  const bool last = stage_.last(cfg_.num_hidden_layers);
  WeightBinder b(*weights_, realigned_);
  // A pipeline stage binds only what it computes (embedding first, head last).
  if (stage_.first() || (last && cfg_.tie_word_embeddings))
    embed_tokens_ = b.matrix("model.embed_tokens", cfg_.vocab_size, D);
  for (int64_t i = stage_.layer_begin; i < stage_.layer_end; ++i) {
    const std::string p = "model.layers." + std::to_string(i);
    LlamaLayerWeights L;
    L.input_layernorm = b.vector(p + ".input_layernorm.weight", D);
    L.q_proj = b.matrix(p + ".self_attn.q_proj", H * hd, D);
    L.k_proj = b.matrix(p + ".self_attn.k_proj", Hkv * hd, D);
    L.v_proj = b.matrix(p + ".self_attn.v_proj", Hkv * hd, D);
    L.o_proj = b.matrix(p + ".self_attn.o_proj", D, H * hd);
    L.post_attention_layernorm = b.vector(p + ".post_attention_layernorm.weight", D);
    L.mlp = b.mlp(p + ".mlp", D, cfg_.intermediate_size);
    layers_.push_back(std::move(L));
  }
  if (last) {
    norm_ = b.vector("model.norm.weight", D);
    // Tied: the output projection is the embedding matrix (a stored lm_head.weight is not read).
    lm_head_ = cfg_.tie_word_embeddings ? embed_tokens_ : b.matrix("lm_head", cfg_.vocab_size, D);
  }
  params_.total = params_.active = b.params;
  inv_freq_ = llama_rope_inv_freq(cfg_);
  prefault(b.spans, progress);
}

AttnShape LlamaModel::attn_shape() const {
  return {cfg_.num_attention_heads, cfg_.num_key_value_heads, cfg_.head_dim, cfg_.head_dim,
          static_cast<float>(1.0 / std::sqrt(static_cast<double>(cfg_.head_dim)))};
}

int64_t LlamaModel::cache_row_width() const { return 2 * cfg_.num_key_value_heads * cfg_.head_dim; }

void LlamaModel::forward(std::span<const int32_t> tokens, KvCache& cache, AttnMode, bool all_logits, float* logits) {
  forward_in_chunks(tokens, cache, all_logits, logits, cfg_.vocab_size,
                    [&](auto t, auto seqs, bool all, float* out) { forward_rows(t, seqs, all, out); });
}

void LlamaModel::decode_batch(std::span<const int32_t> tokens, std::span<KvCache* const> caches, AttnMode,
                              float* logits) {
  decode_in_batches(tokens, caches, logits, cfg_.vocab_size,
                    [&](auto t, auto seqs, bool all, float* out) { forward_rows(t, seqs, all, out); });
}

// T rows of one or more sequences: projections and MLP over all rows together, attention per
// sequence over its own cache (HF LlamaDecoderLayer: x += attn(norm(x)); x += mlp(norm(x))).
void LlamaModel::forward_rows(std::span<const int32_t> tokens, std::span<const SeqRows> seqs, bool all_logits,
                              float* logits) {
  const int64_t T = tokens.size(), D = cfg_.hidden_size, half = cfg_.head_dim / 2;
  const float eps = static_cast<float>(cfg_.rms_norm_eps);
  for (int32_t id : tokens)
    if (id < 0 || id >= cfg_.vocab_size) fail("token id ", id, " is out of range for vocab size ", cfg_.vocab_size);
  float* x = grow(ws_.x, T * D);  // residual stream [T x hidden]
  float* xn = grow(ws_.xn, T * D);
  if (stage_.first()) {
    for (int64_t t = 0; t < T; ++t) decode_row(embed_tokens_, tokens[t], x + t * D);
  } else {
    stage_.link->recv_hidden(x, T * D);  // the previous stage's output rows
  }

  float* cos = grow(ws_.rope_cos, T * half);
  float* sin = grow(ws_.rope_sin, T * half);
  for (const SeqRows& s : seqs)
    for (int64_t i = 0; i < s.count; ++i) {
      const double pos = static_cast<double>(s.cache->n_tokens() + i);
      for (int64_t j = 0; j < half; ++j) {
        cos[(s.begin + i) * half + j] = static_cast<float>(std::cos(pos * inv_freq_[j]));
        sin[(s.begin + i) * half + j] = static_cast<float>(std::sin(pos * inv_freq_[j]));
      }
    }

  float* mlp_out = grow(ws_.mlp_out, T * D);
  // l: this stage's layer index (its cache layer); layers_[0] is stage_.layer_begin.
  for (int64_t l = 0; l < stage_.n_layers(); ++l) {
    const LlamaLayerWeights& L = layers_[l];
    for (int64_t t = 0; t < T; ++t) rmsnorm(x + t * D, L.input_layernorm.data(), D, eps, xn + t * D);
    attention(l, T, seqs);  // x += attn(xn)
    for (int64_t t = 0; t < T; ++t) rmsnorm(x + t * D, L.post_attention_layernorm.data(), D, eps, xn + t * D);
    swiglu(pool_, L.mlp, xn, T, ws_.mlp, mlp_out);
    for (int64_t i = 0; i < T * D; ++i) x[i] += mlp_out[i];
  }
  for (const SeqRows& s : seqs) s.cache->set_n_tokens(s.cache->n_tokens() + s.count);
  if (!stage_.last(cfg_.num_hidden_layers)) {
    stage_.link->send_hidden(x, T * D);  // the next stage continues; the last one makes the logits
    return;
  }
  if (!logits) return;

  const int64_t first = all_logits ? 0 : T - 1, n_out = T - first;
  for (int64_t t = first; t < T; ++t) rmsnorm(x + t * D, norm_.data(), D, eps, xn + t * D);
  matmul(pool_, lm_head_, xn + first * D, n_out, logits);
}

// x += W_O · attention(RoPE(W_Q xn), cache), the new rows' RoPE(W_K xn) and W_V xn appended to
// their sequence's cache first. Query head h reads kv head h / (n_head / n_head_kv) (HF repeat_kv).
void LlamaModel::attention(int64_t layer, int64_t T, std::span<const SeqRows> seqs) {
  const LlamaLayerWeights& L = layers_[layer];
  const int64_t D = cfg_.hidden_size, H = cfg_.num_attention_heads, Hkv = cfg_.num_key_value_heads,
                hd = cfg_.head_dim, half = hd / 2, kv_width = Hkv * hd;
  const float* xn = ws_.xn.data();
  float* x = ws_.x.data();
  float* q = grow(ws_.q, T * H * hd);  // [T x H x hd]
  float* k = grow(ws_.k, T * kv_width);  // [T x Hkv x hd]
  float* v = grow(ws_.v, T * kv_width);
  matmul(pool_, L.q_proj, xn, T, q);
  matmul(pool_, L.k_proj, xn, T, k);
  matmul(pool_, L.v_proj, xn, T, v);
  const float* cos = ws_.rope_cos.data();
  const float* sin = ws_.rope_sin.data();
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t h = 0; h < H; ++h) rope_half_split(q + (t * H + h) * hd, cos + t * half, sin + t * half, hd);
    for (int64_t g = 0; g < Hkv; ++g) rope_half_split(k + (t * Hkv + g) * hd, cos + t * half, sin + t * half, hd);
  }

  const AttnShape shape = attn_shape();
  float* heads = grow(ws_.attn_out, T * H * hd);
  for (const SeqRows& s : seqs) {
    const int64_t p0 = s.cache->n_tokens();
    float* row = grow(ws_.cache_row, 2 * kv_width);  // [K ; V] of one token
    for (int64_t i = 0; i < s.count; ++i) {
      std::copy_n(k + (s.begin + i) * kv_width, kv_width, row);
      std::copy_n(v + (s.begin + i) * kv_width, kv_width, row + kv_width);
      s.cache->write_row(layer, p0 + i, row);
    }
    // Row j of this layer: K of kv head g at g * hd, V at kv_width + g * hd.
    const KvLayout layout = s.cache->layout(layer, p0 + s.count, 0, hd, kv_width, hd);
    const auto t0 = std::chrono::steady_clock::now();
    attend(pool_, shape, q + s.begin * H * hd, s.count, p0, layout, ws_.attn, heads + s.begin * H * hd);
    attention_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  float* proj = grow(ws_.proj, T * D);
  matmul(pool_, L.o_proj, heads, T, proj);
  for (int64_t i = 0; i < T * D; ++i) x[i] += proj[i];
}

}  // namespace mla
