#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "kernels/cache_rows.h"
#include "kernels/matmul.h"
#include "kernels/simd.h"

namespace mla {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
// Keys scored per pass: the G x kSubBlock score tile stays in L1/L2.
constexpr int64_t kSubBlock = 64;
// Fewest keys worth a work item of their own when one query's keys are split across threads.
constexpr int64_t kMinSplitRows = 128;

// Per-thread scratch: the G x kSubBlock score tile, the G query rows and, for typed caches, the f32
// key / value tiles.
struct Scratch {
  std::vector<float> scores, q, k, v;
};
thread_local Scratch tl;

// n floats of v, starting on a 64-byte boundary: the micro-kernels' 64-byte loads of q and of the
// tiles then never straddle two cache lines (measured: scores at 16 heads ~165 -> ~199 GFLOP/s on
// one core, docs/KERNELS.md).
float* grow_aligned(std::vector<float>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n + 16) v.resize(n + 16);
  const auto p = reinterpret_cast<uintptr_t>(v.data());
  return reinterpret_cast<float*>((p + 63) & ~uintptr_t{63});
}

// Calls fn(j, m, rows, stride) for rows [c0, c0 + n) in runs stored contiguously: `rows` points at
// value `offset` of row c0 + j (as T: float, or uint16_t for bf16 / f16 read in place), the next row
// `stride` values on. With a decoded tile (typed caches) the whole range is one run of the tile;
// rows read in place come one run per cache block.
template <class T, class F>
void for_each_run(const KvLayout& kv, const float* tile, int64_t tile_stride, int64_t offset, int64_t c0, int64_t n,
                  F fn) {
  if (tile) return fn(0, n, reinterpret_cast<const T*>(tile), tile_stride);
  for (int64_t j = c0; j < c0 + n;) {
    const int64_t e = kv.run_end(j, c0 + n);
    fn(j - c0, e - j, reinterpret_cast<const T*>(kv.row(j)) + offset, kv.row_bytes / int64_t{sizeof(T)});
    j = e;
  }
}

// Folds rows [a, b) of `kv` into one running state of the G query heads that share kv head g: each key and
// value row is read once and used for all G heads while it is in cache (the MQA/GQA structure;
// for absorbed MLA all heads share the one latent row).
//   qg: [G x d_k]; m, l: [G]; acc: [G x d_v]
void fold_rows(const AttnShape& s, const float* qg, int64_t G, const KvLayout& kv, int64_t g, int64_t a, int64_t b,
               float* m, float* l, float* acc) {
  float* scores = grow_aligned(tl.scores, G * kSubBlock);  // [G x kSubBlock]
  float* q_al = grow_aligned(tl.q, G * s.d_k);
  std::copy_n(qg, G * s.d_k, q_al);
  qg = q_al;
  const int64_t k_at = kv.k_offset + g * kv.k_head_stride, v_at = kv.v_offset + g * kv.v_head_stride;
  // Chosen once per call: register-blocked AVX-512 micro-kernels (4 heads share each key / value
  // load) or the portable loops below.
  const bool simd = kernels_use_avx512();
  // f32 rows, and bf16 / f16 rows under AVX-512 (widened in registers), are read in place. Other
  // typed rows are decoded into [kSubBlock x d_k] (and [kSubBlock x d_v]) f32 tiles; when V lies
  // inside K (absorbed MLA: V is the c_kv prefix of the row) the K tile serves both.
  const bool half_in_place = simd && (kv.dtype == kv::CacheDtype::BF16 || kv.dtype == kv::CacheDtype::F16);
  const bool is_f16 = kv.dtype == kv::CacheDtype::F16;
  const bool typed = kv.dtype != kv::CacheDtype::F32 && !half_in_place;
  const bool v_in_k = v_at >= k_at && v_at + s.d_v <= k_at + s.d_k;
  float* ktile = typed ? grow_aligned(tl.k, kSubBlock * s.d_k) : nullptr;
  float* vtile = !typed ? nullptr : v_in_k ? ktile + (v_at - k_at) : grow_aligned(tl.v, kSubBlock * s.d_v);
  const int64_t vtile_stride = v_in_k ? s.d_k : s.d_v;
  for (int64_t c0 = a; c0 < b; c0 += kSubBlock) {
    const int64_t n = std::min(kSubBlock, b - c0);
    if (typed)
      for (int64_t j = 0; j < n; ++j) {
        // Row j of the next sub-block is fetched while this one is scored and accumulated: the
        // decode then reads from L2 instead of waiting on memory.
        if (c0 + kSubBlock + j < b) {
          prefetch_cache_values(kv.dtype, kv.row(c0 + kSubBlock + j), k_at, s.d_k);
          if (!v_in_k) prefetch_cache_values(kv.dtype, kv.row(c0 + kSubBlock + j), v_at, s.d_v);
        }
        decode_cache_values(kv.dtype, kv.row(c0 + j), k_at, s.d_k, ktile + j * s.d_k);
        if (!v_in_k) decode_cache_values(kv.dtype, kv.row(c0 + j), v_at, s.d_v, vtile + j * s.d_v);
      }
    if (half_in_place) {
      for_each_run<uint16_t>(kv, nullptr, 0, k_at, c0, n, [&](int64_t j0, int64_t nj, const uint16_t* k, int64_t stride) {
        (is_f16 ? simd::attn_scores_f16 : simd::attn_scores_bf16)(qg, G, s.d_k, k, stride, nj, s.scale, scores + j0,
                                                                  kSubBlock);
      });
    } else {
      for_each_run<float>(kv, ktile, s.d_k, k_at, c0, n, [&](int64_t j0, int64_t nj, const float* k, int64_t stride) {
        if (simd) return simd::attn_scores(qg, G, s.d_k, k, stride, nj, s.scale, scores + j0, kSubBlock);
        for (int64_t j = 0; j < nj; ++j)
          for (int64_t i = 0; i < G; ++i)
            scores[i * kSubBlock + j0 + j] = dot_f32(qg + i * s.d_k, k + j * stride, s.d_k) * s.scale;
      });
    }
    for (int64_t i = 0; i < G; ++i) {
      float* sc = scores + i * kSubBlock;
      if (simd) {
        const float c = simd::attn_softmax(sc, n, &m[i], &l[i]);
        if (c != 1.0f) simd::scale_f32(acc + i * s.d_v, s.d_v, c);
        continue;
      }
      const float new_max = std::max(m[i], *std::max_element(sc, sc + n));
      const float c = std::exp(m[i] - new_max);  // rescales what was folded under the old maximum
      if (c != 1.0f) {
        l[i] *= c;
        for (int64_t d = 0; d < s.d_v; ++d) acc[i * s.d_v + d] *= c;
      }
      m[i] = new_max;
      for (int64_t j = 0; j < n; ++j) l[i] += (sc[j] = std::exp(sc[j] - new_max));
    }
    if (half_in_place) {
      for_each_run<uint16_t>(kv, nullptr, 0, v_at, c0, n, [&](int64_t j0, int64_t nj, const uint16_t* v, int64_t stride) {
        (is_f16 ? simd::attn_accumulate_f16 : simd::attn_accumulate_bf16)(scores + j0, kSubBlock, G, v, stride, nj, s.d_v,
                                                                          acc);
      });
      continue;
    }
    for_each_run<float>(kv, vtile, vtile_stride, v_at, c0, n, [&](int64_t j0, int64_t nj, const float* v, int64_t stride) {
      if (simd) return simd::attn_accumulate(scores + j0, kSubBlock, G, v, stride, nj, s.d_v, acc);
      for (int64_t j = 0; j < nj; ++j)
        for (int64_t i = 0; i < G; ++i) axpy_f32(scores[i * kSubBlock + j0 + j], v + j * stride, acc + i * s.d_v, s.d_v);
    });
  }
}

// Merges the state (m2, l2, acc2) into (m, l, acc): the exact combination of two partial softmaxes.
void merge_state(int64_t d_v, float& m, float& l, float* acc, float m2, float l2, const float* acc2) {
  if (m2 == kNegInf) return;
  const float new_max = std::max(m, m2);
  const float c1 = std::exp(m - new_max), c2 = std::exp(m2 - new_max);
  l = l * c1 + l2 * c2;
  for (int64_t d = 0; d < d_v; ++d) acc[d] = acc[d] * c1 + acc2[d] * c2;
  m = new_max;
}

}  // namespace

KvLayout f32_rows(const float* base, int64_t row_width, int64_t k_offset, int64_t k_head_stride, int64_t v_offset,
                  int64_t v_head_stride) {
  KvLayout kv;
  kv.base = reinterpret_cast<const uint8_t*>(base);
  kv.row_width = row_width;
  kv.row_bytes = row_width * static_cast<int64_t>(sizeof(float));
  kv.k_offset = k_offset;
  kv.k_head_stride = k_head_stride;
  kv.v_offset = v_offset;
  kv.v_head_stride = v_head_stride;
  return kv;
}

void AttnState::reset(int64_t T, const AttnShape& s) {
  max.assign(T * s.n_head, kNegInf);
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
  const int64_t H = s.n_head, G = s.n_head / s.n_head_kv, pairs = T * s.n_head_kv;
  // Decoding has few (query, kv head) pairs: split each one's keys across threads (flash-decoding)
  // so every thread streams a part of the cache, then merge the partial softmaxes exactly.
  int64_t splits = 1;
  if (pairs < 2 * pool.size()) {
    const int64_t want = (2 * pool.size() + pairs - 1) / pairs;
    splits = std::clamp<int64_t>((j1 - j0) / kMinSplitRows, 1, want);
  }
  const int64_t items = pairs * splits;
  st.part_max.assign(items * G, kNegInf);
  st.part_sum.assign(items * G, 0.0f);
  st.part_acc.assign(items * G * s.d_v, 0.0f);

  pool.parallel_for(items, [&](int64_t i0, int64_t i1) {
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t pair = item / splits, split = item % splits, t = pair / s.n_head_kv, g = pair % s.n_head_kv;
      const int64_t end = std::min(j1, p0 + t + 1);  // causal: query t sees tokens <= p0 + t
      if (end <= j0) continue;
      const int64_t a = j0 + (end - j0) * split / splits, b = j0 + (end - j0) * (split + 1) / splits;
      if (a >= b) continue;
      fold_rows(s, q + (t * H + g * G) * s.d_k, G, kv, g, a - j0, b - j0, &st.part_max[item * G],
                &st.part_sum[item * G], &st.part_acc[item * G * s.d_v]);
    }
  });
  // Merge each pair's splits into the running state, in order (deterministic).
  pool.parallel_for(pairs, [&](int64_t b0, int64_t b1) {
    for (int64_t pair = b0; pair < b1; ++pair) {
      const int64_t t = pair / s.n_head_kv, g = pair % s.n_head_kv;
      for (int64_t split = 0; split < splits; ++split)
        for (int64_t i = 0; i < G; ++i) {
          const int64_t item = pair * splits + split, h = t * H + g * G + i;
          merge_state(s.d_v, st.max[h], st.sum[h], &st.acc[h * s.d_v], st.part_max[item * G + i],
                      st.part_sum[item * G + i], &st.part_acc[(item * G + i) * s.d_v]);
        }
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
