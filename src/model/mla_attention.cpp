#include "model/mla_attention.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/matmul.h"

namespace mla {
namespace {

float* grow(std::vector<float>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(n);
  return v.data();
}

}  // namespace

AttnMode parse_attn_mode(std::string_view s) {
  if (s == "naive") return AttnMode::Naive;
  if (s == "absorbed") return AttnMode::Absorbed;
  if (s == "auto") return AttnMode::Auto;
  fail("--attn: expected naive, absorbed or auto, got '", s, "'");
}

const char* attn_mode_name(AttnMode m) {
  switch (m) {
    case AttnMode::Naive: return "naive";
    case AttnMode::Absorbed: return "absorbed";
    case AttnMode::Auto: return "auto";
  }
  return "?";
}

double mla_attention_flops(AttnMode m, const MlaShape& s, int64_t T, int64_t p0) {
  const double H = s.n_head, R = s.kv_lora_rank, nope = s.qk_nope_head_dim, rope = s.qk_rope_head_dim,
               v = s.v_head_dim;
  const double pairs = causal_pairs(T, p0);
  if (m == AttnMode::Naive) {
    const double L = p0 + T;
    return L * H * (nope + v) * R + pairs * H * (nope + rope + v);
  }
  return T * H * (nope + v) * R + pairs * H * (R + rope + R);
}

AttnMode resolve_attn_mode(AttnMode m, const MlaShape& s, int64_t T, int64_t p0) {
  if (m != AttnMode::Auto) return m;
  return mla_attention_flops(AttnMode::Naive, s, T, p0) < mla_attention_flops(AttnMode::Absorbed, s, T, p0)
             ? AttnMode::Naive
             : AttnMode::Absorbed;
}

void MlaAttention::run(AttnMode mode, ThreadPool& pool, const MlaShape& s, const Matrix& kv_b_proj,
                       const KvCache& cache, int64_t layer, const float* q, int64_t T, int64_t p0, float* out) {
  if (resolve_attn_mode(mode, s, T, p0) == AttnMode::Absorbed)
    absorbed(pool, s, kv_b_proj, cache, layer, q, T, p0, out);
  else if (kernels_use_bf16_dot())  // for any T: a query's result then does not depend on its chunk
    naive_flash(pool, s, kv_b_proj, cache, layer, q, T, p0, out);
  else
    naive(pool, s, kv_b_proj, cache, layer, q, T, p0, out);
}

// Keys are expanded a block of cache rows at a time and streamed into the attention core's running
// softmax, so memory stays bounded at any context length.
constexpr int64_t kNaiveBlock = 256;

void MlaAttention::naive(ThreadPool& pool, const MlaShape& s, const Matrix& kv_b_proj, const KvCache& cache,
                         int64_t layer, const float* q, int64_t T, int64_t p0, float* out) {
  const int64_t H = s.n_head, nope = s.qk_nope_head_dim, rope = s.qk_rope_head_dim, dv = s.v_head_dim,
                R = s.kv_lora_rank, qd = nope + rope, kvd = nope + dv, L = p0 + T;
  // Expanded rows, MHA layout: [K (H x (nope + rope)) ; V (H x dv)] per token.
  const int64_t row = H * (qd + dv);
  const AttnShape core{H, H, qd, dv, s.softmax_scale};
  const KvLayout layout = f32_rows(grow(block_rows_, kNaiveBlock * row), row, 0, qd, H * qd, dv);
  float* latent = grow(latent_, kNaiveBlock * R);
  float* expanded = grow(expanded_, kNaiveBlock * H * kvd);
  state_.reset(T, core);
  const int64_t W = R + rope;
  float* cached = grow(cached_, kNaiveBlock * W);  // [nb x (R + rope)] cache rows as f32
  for (int64_t j0 = 0; j0 < L; j0 += kNaiveBlock) {
    const int64_t nb = std::min(kNaiveBlock, L - j0);
    for (int64_t j = 0; j < nb; ++j) {
      cache.read_row(layer, j0 + j, cached + j * W);
      std::copy_n(cached + j * W, R, latent + j * R);
    }
    // [nb x H x (nope + dv)] = c_kv · kv_b_proj^T: per head k_nope then v.
    matmul(pool, kv_b_proj, latent, nb, expanded);
    float* rows = block_rows_.data();
    for (int64_t j = 0; j < nb; ++j) {
      const float* k_pe = cached + j * W + R;  // shared by every head
      for (int64_t h = 0; h < H; ++h) {
        const float* e = expanded + (j * H + h) * kvd;
        float* k = rows + j * row + h * qd;
        std::copy_n(e, nope, k);
        std::copy_n(k_pe, rope, k + nope);
        std::copy_n(e + nope, dv, rows + j * row + H * qd + h * dv);
      }
    }
    attend_block(pool, core, q, T, p0, layout, j0, j0 + nb, state_);
  }
  state_.finish(T, core, out);
}

// The same expansion, with each block's keys and values converted per head to bf16 (keys as rows,
// values transposed) and folded by flash_fold: every head's queries of the chunk meet each key
// tile once, in one panel product, instead of each query streaming all the keys on its own.
void MlaAttention::naive_flash(ThreadPool& pool, const MlaShape& s, const Matrix& kv_b_proj, const KvCache& cache,
                               int64_t layer, const float* q, int64_t T, int64_t p0, float* out) {
  const int64_t H = s.n_head, nope = s.qk_nope_head_dim, rope = s.qk_rope_head_dim, dv = s.v_head_dim,
                R = s.kv_lora_rank, qd = nope + rope, kvd = nope + dv, L = p0 + T, W = R + rope;
  const int64_t nbp_max = (kNaiveBlock + 1) / 2 * 2;
  float* q_heads = grow(q_heads_, H * T * qd);  // [H x T x qd]: each head's queries contiguous
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h) std::copy_n(q + (t * H + h) * qd, qd, q_heads + (h * T + t) * qd);
  if (static_cast<int64_t>(k_heads_.size()) < H * kNaiveBlock * qd) k_heads_.resize(H * kNaiveBlock * qd);
  if (static_cast<int64_t>(vt_heads_.size()) < H * dv * nbp_max) vt_heads_.resize(H * dv * nbp_max);
  if (static_cast<int64_t>(flash_.size()) < H) flash_.resize(H);
  for (int64_t h = 0; h < H; ++h) flash_[h].reset(T, dv);
  float* latent = grow(latent_, kNaiveBlock * R);
  float* expanded = grow(expanded_, kNaiveBlock * H * kvd);
  float* cached = grow(cached_, kNaiveBlock * W);  // [nb x (R + rope)] cache rows as f32
  for (int64_t j0 = 0; j0 < L; j0 += kNaiveBlock) {
    const int64_t nb = std::min(kNaiveBlock, L - j0), nbp = (nb + 1) / 2 * 2;
    for (int64_t j = 0; j < nb; ++j) {
      cache.read_row(layer, j0 + j, cached + j * W);
      std::copy_n(cached + j * W, R, latent + j * R);
    }
    matmul(pool, kv_b_proj, latent, nb, expanded);  // [nb x H x (nope + dv)]
    pool.parallel_for(H, [&](int64_t h0, int64_t h1) {
      for (int64_t h = h0; h < h1; ++h) {
        uint16_t* k = k_heads_.data() + h * kNaiveBlock * qd;  // [nb x (nope + rope)]
        uint16_t* vt = vt_heads_.data() + h * dv * nbp_max;     // [dv x nbp]
        for (int64_t j = 0; j < nb; ++j) {
          const float* e = expanded + (j * H + h) * kvd;
          for (int64_t d = 0; d < nope; ++d) k[j * qd + d] = f32_to_bf16(e[d]);
          for (int64_t d = 0; d < rope; ++d) k[j * qd + nope + d] = f32_to_bf16(cached[j * W + R + d]);
          for (int64_t d = 0; d < dv; ++d) vt[d * nbp + j] = f32_to_bf16(e[nope + d]);
        }
        for (int64_t d = 0; d < dv && nbp > nb; ++d) vt[d * nbp + nb] = 0;
        const Matrix K{DType::BF16, nb, qd, reinterpret_cast<const uint8_t*>(k), nullptr};
        const Matrix Vt{DType::BF16, dv, nbp, reinterpret_cast<const uint8_t*>(vt), nullptr};
        flash_fold(q_heads + h * T * qd, T, p0, K, Vt, j0, s.softmax_scale, flash_[h]);
      }
    });
  }
  for (int64_t h = 0; h < H; ++h) flash_finish(flash_[h], T, dv, out + h * dv, H * dv);
}

void MlaAttention::absorbed(ThreadPool& pool, const MlaShape& s, const Matrix& kv_b_proj, const KvCache& cache,
                            int64_t layer, const float* q, int64_t T, int64_t p0, float* out) {
  const int64_t H = s.n_head, nope = s.qk_nope_head_dim, rope = s.qk_rope_head_dim, dv = s.v_head_dim,
                R = s.kv_lora_rank, qd = nope + rope, kvd = nope + dv, W = R + rope;
  float* q_cat = grow(q_cat_, T * H * W);  // [T x H x (R + rope)]: [q_lat ; q_pe]
  float* o_lat = grow(o_lat_, T * H * R);  // [T x H x R]

  // 1. Absorb W_UK into the query: q_lat[t,h] = W_UK_h^T q_nope[t,h] (W_UK_h: rows [h kvd, h kvd + nope)).
  pool.parallel_for(H, [&](int64_t h0, int64_t h1) {
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t t = 0; t < T; ++t) {
        float* qc = q_cat + (t * H + h) * W;
        std::fill_n(qc, R, 0.0f);
        std::copy_n(q + (t * H + h) * qd + nope, rope, qc + R);
        matvec_t_rows(kv_b_proj, h * kvd, h * kvd + nope, q + (t * H + h) * qd, qc);
      }
  });

  // 2. MQA over the cache rows: keys are whole rows [c_kv ; k_pe], values their c_kv prefix.
  const AttnShape core{H, 1, W, R, s.softmax_scale};
  const KvLayout layout = cache.layout(layer, p0 + T, 0, 0, 0, 0);
  attend(pool, core, q_cat, T, p0, layout, state_, o_lat);

  // 3. Absorb W_UV into the output: out[t,h] = W_UV_h o_lat[t,h] (W_UV_h: rows [h kvd + nope, (h + 1) kvd)).
  pool.parallel_for(H, [&](int64_t h0, int64_t h1) {
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t t = 0; t < T; ++t)
        matvec_rows(kv_b_proj, h * kvd + nope, (h + 1) * kvd, o_lat + (t * H + h) * R, out + (t * H + h) * dv);
  });
}

}  // namespace mla
