// The DeepSeek-V2/V3 forward pass over a chunk of tokens.
#include "model/deepseek2.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "model/row_batches.h"

namespace mla {
namespace {

template <class T>
T* grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

}  // namespace

void DeepseekModel::forward(std::span<const int32_t> tokens, KvCache& cache, AttnMode mode, bool all_logits,
                            float* logits) {
  forward_in_chunks(tokens, cache, all_logits, logits, cfg_.vocab_size,
                    [&](auto t, auto seqs, bool all, float* out) { forward_rows(t, seqs, mode, all, out); });
}

void DeepseekModel::decode_batch(std::span<const int32_t> tokens, std::span<KvCache* const> caches, AttnMode mode,
                                 float* logits) {
  decode_in_batches(tokens, caches, logits, cfg_.vocab_size,
                    [&](auto t, auto seqs, bool all, float* out) { forward_rows(t, seqs, mode, all, out); });
}

// The forward pass over T rows that belong to one or more sequences (`seqs`): the projections and
// experts run over all rows together, attention per sequence over its own cache.
void DeepseekModel::forward_rows(std::span<const int32_t> tokens, std::span<const SeqRows> seqs, AttnMode mode,
                                 bool all_logits, float* logits) {
  const int64_t T = tokens.size(), D = cfg_.hidden_size;
  for (int32_t id : tokens)
    if (id < 0 || id >= cfg_.vocab_size) fail("token id ", id, " is out of range for vocab size ", cfg_.vocab_size);
  float* x = grow(ws_.x, T * D);   // residual stream [T x hidden]
  float* xn = grow(ws_.xn, T * D);
  if (stage_.first()) {
    for (int64_t t = 0; t < T; ++t) decode_row(embed_tokens_, tokens[t], x + t * D);
  } else {
    stage_.link->recv_hidden(x, T * D);  // the previous stage's output rows
  }

  const int64_t half = cfg_.qk_rope_head_dim / 2;
  float* cos = grow(ws_.rope_cos, T * half);
  float* sin = grow(ws_.rope_sin, T * half);
  for (const SeqRows& s : seqs)
    for (int64_t i = 0; i < s.count; ++i)
      rope_.angles(s.cache->n_tokens() + i, cos + (s.begin + i) * half, sin + (s.begin + i) * half);

  // l: this stage's layer index (its cache layer); layers_[0] is stage_.layer_begin.
  for (int64_t l = 0; l < stage_.n_layers(); ++l) {
    const LayerWeights& L = layers_[l];
    for (int64_t t = 0; t < T; ++t)
      rmsnorm(x + t * D, L.input_layernorm.data(), D, cfg_.rms_norm_eps, xn + t * D);
    attention(l, T, seqs, mode);  // x += attn(xn)

    for (int64_t t = 0; t < T; ++t)
      rmsnorm(x + t * D, L.post_attention_layernorm.data(), D, cfg_.rms_norm_eps, xn + t * D);
    if (L.moe) {
      moe(stage_.layer_begin + l, *L.moe, T);  // x += moe(xn)
    } else {
      float* out = grow(ws_.mlp_out, T * D);
      mlp(*L.mlp, xn, T, out);
      for (int64_t i = 0; i < T * D; ++i) x[i] += out[i];
    }
  }
  for (const SeqRows& s : seqs) s.cache->set_n_tokens(s.cache->n_tokens() + s.count);
  if (!stage_.last(cfg_.num_hidden_layers)) {
    stage_.link->send_hidden(x, T * D);  // the next stage continues; the last one makes the logits
    return;
  }
  if (!logits) return;

  const int64_t first = all_logits ? 0 : T - 1, n_out = T - first;
  for (int64_t t = first; t < T; ++t) rmsnorm(x + t * D, norm_.data(), D, cfg_.rms_norm_eps, xn + t * D);
  matmul(pool_, lm_head_, xn + first * D, n_out, logits);
}

// MLA (DeepSeek-V2 paper eq. 37-47): x += W_O · attention(q, cache), with the new tokens' latent and
// rotated shared key appended to their sequence's cache first.
void DeepseekModel::attention(int64_t layer, int64_t T, std::span<const SeqRows> seqs, AttnMode mode) {
  const AttnWeights& a = layers_[layer].attn;
  const int64_t D = cfg_.hidden_size, H = cfg_.num_attention_heads, nope = cfg_.qk_nope_head_dim,
                rope = cfg_.qk_rope_head_dim, R = cfg_.kv_lora_rank, qd = nope + rope, half = rope / 2,
                dv = cfg_.v_head_dim;
  const float* xn = ws_.xn.data();
  float* x = ws_.x.data();

  // Queries [T x H x (nope + rope)], through the low-rank q_a -> norm -> q_b path when q_lora_rank is set.
  float* q = grow(ws_.q, T * H * qd);
  if (a.q_proj) {
    matmul(pool_, *a.q_proj, xn, T, q);
  } else {
    const int64_t QR = *cfg_.q_lora_rank;
    float* qa = grow(ws_.q_a, T * QR);
    matmul(pool_, *a.q_a_proj, xn, T, qa);
    for (int64_t t = 0; t < T; ++t) rmsnorm(qa + t * QR, a.q_a_layernorm.data(), QR, cfg_.rms_norm_eps, qa + t * QR);
    matmul(pool_, *a.q_b_proj, qa, T, q);
  }
  const float* cos = ws_.rope_cos.data();
  const float* sin = ws_.rope_sin.data();
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h) rope_interleaved(q + (t * H + h) * qd + nope, cos + t * half, sin + t * half, rope);

  // Compressed KV [T x (R + rope)] -> cache rows: [RMSNorm(c_kv) ; RoPE(k_pe)].
  float* kv = grow(ws_.kv_a, T * (R + rope));
  matmul(pool_, a.kv_a_proj_with_mqa, xn, T, kv);
  float* heads = grow(ws_.attn_out, T * H * dv);
  for (const SeqRows& s : seqs) {
    const int64_t p0 = s.cache->n_tokens();
    for (int64_t i = 0; i < s.count; ++i) {
      const int64_t t = s.begin + i;
      float* row = kv + t * (R + rope);  // normalised and rotated in place, then stored
      rmsnorm(row, a.kv_a_layernorm.data(), R, cfg_.rms_norm_eps, row);
      rope_interleaved(row + R, cos + t * half, sin + t * half, rope);
      s.cache->write_row(layer, p0 + i, row);
    }
    const auto t0 = std::chrono::steady_clock::now();
    attn_.run(mode, pool_, attn_shape(), a.kv_b_proj, *s.cache, layer, q + s.begin * H * qd, s.count, p0,
              heads + s.begin * H * dv);
    attention_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  float* proj = grow(ws_.proj, T * D);
  matmul(pool_, a.o_proj, heads, T, proj);
  for (int64_t i = 0; i < T * D; ++i) x[i] += proj[i];
}

void DeepseekModel::mlp(const MlpWeights& w, const float* x, int64_t T, float* out) {
  swiglu(pool_, w, x, T, ws_.mlp, out);
}

// DeepSeekMoE: x += shared_experts(xn) + sum_k w_k expert_k(xn). Each held expert runs once over the
// rows routed to it; unselected experts are not read at all. Under an expert split the rows routed to
// other ranks' experts go there first, those ranks compute while this one runs its own experts and
// the shared ones, and their weighted sums come back last.
void DeepseekModel::moe(int64_t layer, const MoeWeights& w, int64_t T) {
  const int64_t D = cfg_.hidden_size, E = *cfg_.n_routed_experts, K = cfg_.num_experts_per_tok;
  const float* xn = ws_.xn.data();
  float* x = ws_.x.data();
  float* logits = grow(ws_.router_logits, T * E);
  matmul(pool_, w.gate, xn, T, logits);
  int32_t* ids = grow(ws_.expert_ids, T * K);
  float* weights = grow(ws_.expert_weights, T * K);
  for (int64_t t = 0; t < T; ++t)
    router_.route(logits + t * E, w.score_bias.empty() ? nullptr : w.score_bias.data(), ids + t * K, weights + t * K);

  if (stage_.experts) stage_.experts->dispatch(layer, xn, T, ids, weights);
  run_routed_experts(pool_, w.routed, xn, T, D, K, ids, weights, ws_.routed, x);
  if (w.shared_experts) {
    float* out = grow(ws_.mlp_out, T * D);
    mlp(*w.shared_experts, xn, T, out);
    for (int64_t i = 0; i < T * D; ++i) x[i] += out[i];
  }
  if (stage_.experts) stage_.experts->combine(x, T);
}

}  // namespace mla
