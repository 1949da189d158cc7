#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/matmul.h"

namespace mla {
namespace {

thread_local std::vector<float> tl_scores;

}  // namespace

void AttnState::reset(int64_t T, const AttnShape& s) {
  max.assign(T * s.n_head, -std::numeric_limits<float>::infinity());
  sum.assign(T * s.n_head, 0.0f);
  acc.assign(T * s.n_head * s.d_v, 0.0f);
}

void AttnState::finish(int64_t T, const AttnShape& s, float* out) const {
  for (int64_t i = 0; i < T * s.n_head; ++i) {
    const float inv = 1.0f / sum[i];
    for (int64_t d = 0; d < s.d_v; ++d) out[i * s.d_v + d] = acc[i * s.d_v + d] * inv;
  }
}

void attend_block(ThreadPool& pool, const AttnShape& s, const float* q, int64_t T, int64_t p0, const KvLayout& kv,
                  int64_t j0, int64_t j1, AttnState& st) {
  const int64_t H = s.n_head, group = s.n_head / s.n_head_kv;
  pool.parallel_for(T * H, [&](int64_t i0, int64_t i1) {
    if (static_cast<int64_t>(tl_scores.size()) < j1 - j0) tl_scores.resize(j1 - j0);
    float* scores = tl_scores.data();
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t t = i / H, g = (i % H) / group;
      const int64_t n = std::min(j1, p0 + t + 1) - j0;  // visible tokens of this block
      if (n <= 0) continue;
      const float* qi = q + i * s.d_k;
      const float* k = kv.base + kv.k_offset + g * kv.k_head_stride;
      float block_max = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < n; ++j) {
        scores[j] = dot_f32(qi, k + j * kv.row_stride, s.d_k) * s.scale;
        block_max = std::max(block_max, scores[j]);
      }
      // Rescale what was accumulated under the previous maximum, then add this block.
      float* acc = st.acc.data() + i * s.d_v;
      const float m = std::max(st.max[i], block_max);
      const float c = std::exp(st.max[i] - m);
      if (c != 1.0f) {
        st.sum[i] *= c;
        for (int64_t d = 0; d < s.d_v; ++d) acc[d] *= c;
      }
      st.max[i] = m;
      const float* v = kv.base + kv.v_offset + g * kv.v_head_stride;
      float sum = 0;
      for (int64_t j = 0; j < n; ++j) {
        const float p = std::exp(scores[j] - m);
        sum += p;
        axpy_f32(p, v + j * kv.row_stride, acc, s.d_v);
      }
      st.sum[i] += sum;
    }
  });
}

void attend(ThreadPool& pool, const AttnShape& s, const float* q, int64_t T, int64_t p0, const KvLayout& kv,
            AttnState& st, float* out) {
  st.reset(T, s);
  attend_block(pool, s, q, T, p0, kv, 0, p0 + T, st);
  st.finish(T, s, out);
}

}  // namespace mla
