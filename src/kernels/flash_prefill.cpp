#include "kernels/flash_prefill.h"

#include <algorithm>
#include <limits>

#include "kernels/panel_gemm.h"
#include "kernels/simd.h"

namespace mla {
namespace {

thread_local std::vector<float> tl_scores, tl_p, tl_pv;  // [n x nb], [n x nbp], [n x d_v]

float* sized(std::vector<float>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
  return v.data();
}

}  // namespace

void FlashHeadState::reset(int64_t T, int64_t d_v) {
  m.assign(static_cast<size_t>(T), -std::numeric_limits<float>::infinity());
  l.assign(static_cast<size_t>(T), 0.0f);
  o.assign(static_cast<size_t>(T * d_v), 0.0f);
}

void flash_fold(const float* q, int64_t T, int64_t p0, const Matrix& K, const Matrix& Vt, int64_t j0, float scale,
                FlashHeadState& st) {
  const int64_t nb = K.rows, nbp = Vt.cols, d_k = K.cols, d_v = Vt.rows;
  const int64_t t_first = std::max<int64_t>(0, j0 - p0), n = T - t_first;  // queries that see the block
  if (n <= 0) return;
  float* s = sized(tl_scores, n * nb);
  panel::matmul_serial(K, q + t_first * d_k, n, s, panel::Impl::Simd);  // s[i][j] = q_(t_first+i) · k_j
  float* p = sized(tl_p, n * nbp);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t t = t_first + i, visible = std::min(nb, p0 + t - j0 + 1);
    float* si = s + i * nb;
    for (int64_t j = 0; j < visible; ++j) si[j] *= scale;
    const float c = simd::attn_softmax(si, visible, &st.m[t], &st.l[t]);  // si[j] = weights now
    if (c != 1.0f) simd::scale_f32(&st.o[t * d_v], d_v, c);
    float* pi = p + i * nbp;
    std::copy_n(si, visible, pi);
    std::fill(pi + visible, pi + nbp, 0.0f);
  }
  float* pv = sized(tl_pv, n * d_v);
  panel::matmul_serial(Vt, p, n, pv, panel::Impl::Simd);  // pv[i][d] = sum_j p[i][j] v_j[d]
  float* o = &st.o[t_first * d_v];
  for (int64_t i = 0; i < n * d_v; ++i) o[i] += pv[i];
}

void flash_finish(const FlashHeadState& st, int64_t T, int64_t d_v, float* out, int64_t ldo) {
  for (int64_t t = 0; t < T; ++t) {
    const float inv = st.l[t] > 0 ? 1.0f / st.l[t] : 0.0f;
    for (int64_t d = 0; d < d_v; ++d) out[t * ldo + d] = st.o[t * d_v + d] * inv;
  }
}

}  // namespace mla
