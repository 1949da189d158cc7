#include "model/mla_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "kernels/matmul.h"

namespace mla {
namespace {

// Per-thread scratch (a weight row, a query's scores), grown on demand so steady-state decoding
// allocates nothing.
thread_local std::vector<float> tl_row, tl_scores;

float* grow_scratch(std::vector<float>& v, int64_t n) {
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
  const double pairs = T * static_cast<double>(p0) + T * (T + 1) / 2.0;  // (query, key) pairs, causal
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
                       const MlaCache& cache, int64_t layer, const float* q, int64_t T, int64_t p0, float* out) {
  if (resolve_attn_mode(mode, s, T, p0) == AttnMode::Naive)
    naive(pool, s, kv_b_proj, cache, layer, q, T, p0, out);
  else
    absorbed(pool, s, kv_b_proj, cache, layer, q, T, p0, out);
}

// Keys are expanded a block of cache rows at a time and folded into a running (online) softmax,
// so memory stays bounded at any context length.
constexpr int64_t kNaiveBlock = 256;

void MlaAttention::naive(ThreadPool& pool, const MlaShape& s, const Matrix& kv_b_proj, const MlaCache& cache,
                         int64_t layer, const float* q, int64_t T, int64_t p0, float* out) {
  const int64_t H = s.n_head, nope = s.qk_nope_head_dim, rope = s.qk_rope_head_dim, dv = s.v_head_dim,
                R = s.kv_lora_rank, qd = nope + rope, kvd = nope + dv, L = p0 + T;
  latent_.resize(kNaiveBlock * R);
  expanded_.resize(kNaiveBlock * H * kvd);
  state_m_.assign(T * H, -std::numeric_limits<float>::infinity());
  state_l_.assign(T * H, 0.0f);
  acc_.assign(T * H * dv, 0.0f);

  for (int64_t j0 = 0; j0 < L; j0 += kNaiveBlock) {
    const int64_t nb = std::min(kNaiveBlock, L - j0);
    for (int64_t j = 0; j < nb; ++j) std::copy_n(cache.row(layer, j0 + j), R, latent_.data() + j * R);
    // expanded[j] = kv_b_proj · c_kv[j]: per head [k_nope (nope) ; v (dv)]   -> [nb x H x (nope+dv)]
    matmul(pool, kv_b_proj, latent_.data(), nb, expanded_.data());

    pool.parallel_for(T * H, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t t = i / H, h = i % H, visible = std::min(nb, p0 + t + 1 - j0);
        const float* qh = q + (t * H + h) * qd;
        float& m = state_m_[i];
        float& l = state_l_[i];
        float* acc = acc_.data() + i * dv;
        for (int64_t j = 0; j < visible; ++j) {
          const float* kv = expanded_.data() + (j * H + h) * kvd;
          const float* k_pe = cache.row(layer, j0 + j) + R;
          const float score =
              (dot_f32(qh, kv, nope) + dot_f32(qh + nope, k_pe, rope)) * s.softmax_scale;
          if (score > m) {  // rescale what was accumulated under the old maximum
            const float c = std::exp(m - score);
            l *= c;
            for (int64_t d = 0; d < dv; ++d) acc[d] *= c;
            m = score;
          }
          const float p = std::exp(score - m);
          l += p;
          axpy_f32(p, kv + nope, acc, dv);
        }
      }
    });
  }
  for (int64_t i = 0; i < T * H; ++i)
    for (int64_t d = 0; d < dv; ++d) out[i * dv + d] = acc_[i * dv + d] / state_l_[i];
}

void MlaAttention::absorbed(ThreadPool& pool, const MlaShape& s, const Matrix& kv_b_proj, const MlaCache& cache,
                            int64_t layer, const float* q, int64_t T, int64_t p0, float* out) {
  const int64_t H = s.n_head, nope = s.qk_nope_head_dim, rope = s.qk_rope_head_dim, dv = s.v_head_dim,
                R = s.kv_lora_rank, qd = nope + rope, kvd = nope + dv, W = R + rope;
  q_cat_.assign(T * H * W, 0.0f);  // [T x H x (R + rope)]: [q_lat ; q_pe]
  o_lat_.assign(T * H * R, 0.0f);  // [T x H x R]

  // 1. Absorb W_UK into the query: q_lat[t,h] = W_UK_h^T q_nope[t,h]. Per head, so each W_UK_h row
  //    is decoded once for all T queries.
  pool.parallel_for(H, [&](int64_t h0, int64_t h1) {
    float* row = grow_scratch(tl_row, R);
    for (int64_t h = h0; h < h1; ++h) {
      for (int64_t i = 0; i < nope; ++i) {
        decode_row(kv_b_proj, h * kvd + i, row);
        for (int64_t t = 0; t < T; ++t) axpy_f32(q[(t * H + h) * qd + i], row, &q_cat_[(t * H + h) * W], R);
      }
      for (int64_t t = 0; t < T; ++t)
        std::copy_n(q + (t * H + h) * qd + nope, rope, &q_cat_[(t * H + h) * W + R]);
    }
  });

  // 2. MQA over the latent rows: score_j = q_cat · row_j, o_lat = sum_j p_j c_kv_j.
  pool.parallel_for(T * H, [&](int64_t i0, int64_t i1) {
    float* scores = grow_scratch(tl_scores, p0 + T);
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t t = i / H, visible = p0 + t + 1;
      const float* qc = &q_cat_[i * W];
      for (int64_t j = 0; j < visible; ++j) scores[j] = dot_f32(qc, cache.row(layer, j), W) * s.softmax_scale;
      const float m = *std::max_element(scores, scores + visible);
      float l = 0;
      for (int64_t j = 0; j < visible; ++j) l += (scores[j] = std::exp(scores[j] - m));
      float* o = &o_lat_[i * R];
      for (int64_t j = 0; j < visible; ++j) axpy_f32(scores[j] / l, cache.row(layer, j), o, R);
    }
  });

  // 3. Absorb W_UV into the output: out[t,h] = W_UV_h o_lat[t,h].
  pool.parallel_for(H, [&](int64_t h0, int64_t h1) {
    float* row = grow_scratch(tl_row, R);
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t d = 0; d < dv; ++d) {
        decode_row(kv_b_proj, h * kvd + nope + d, row);
        for (int64_t t = 0; t < T; ++t) out[(t * H + h) * dv + d] = dot_f32(row, &o_lat_[(t * H + h) * R], R);
      }
  });
}

}  // namespace mla
