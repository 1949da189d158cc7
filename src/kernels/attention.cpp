#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "kernels/cache_rows.h"
#include "kernels/matmul.h"
#include "kernels/simd.h"
#include "kernels/simd_attn_dot.h"
#include "kernels/simd_panel.h"
#include "tensor/dtype.h"

namespace mla {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
// Keys scored per pass: the G x kSubBlock score tile stays in L1/L2.
constexpr int64_t kSubBlock = 64;
// Fewest keys worth a work item of their own when one query's keys are split across threads.
constexpr int64_t kMinSplitRows = 128;
// Fewest heads per key row for which the heads-in-lanes kernels (simd.h) beat the 4 x 4 tiles.
constexpr int64_t kLaneHeads = 16;
// Whole rows decoded at a time for several kv heads over fp8 / q8_0 rows.
constexpr int64_t kDecodedRows = 16;
// Most bytes of rows (as read, or decoded to f32) one chunk may span when several kv heads take
// turns over it: the chunk has to stay in L2 until the last head has read it. Wider rows (V3-sized
// MHA: 128 heads x 2 x 128 values) go one kv head at a time over all the rows instead.
constexpr int64_t kChunkBytes = int64_t{1} << 20;

// Per-thread scratch: the score tile, the query rows and, for typed caches, the f32 key / value
// tiles; the value rows of a pass.
struct Scratch {
  std::vector<float> scores, q, k, v, acc_t, rows_f32;
  std::vector<uint32_t> q_pairs, p_pairs, v_pairs;  // bf16 pairs (simd_attn_dot.h)
  std::vector<uint32_t> k16, v16;                     // typed rows' tiles as bf16, two per element
  std::vector<const uint8_t*> rows;
  std::vector<int64_t> offsets;
};
thread_local Scratch tl;

// n values of v, starting on a 64-byte boundary: the micro-kernels' 64-byte loads of q and of the
// tiles then never straddle two cache lines (measured: scores at 16 heads ~165 -> ~199 GFLOP/s on
// one core, docs/KERNELS.md).
template <class T>
T* grow_aligned(std::vector<T>& v, int64_t n) {
  static_assert(sizeof(T) == 4);
  if (static_cast<int64_t>(v.size()) < n + 16) v.resize(n + 16);
  const auto p = reinterpret_cast<uintptr_t>(v.data());
  return reinterpret_cast<T*>((p + 63) & ~uintptr_t{63});
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

// Whether the kernels read this cache's rows in place: f32, and bf16 / f16 under AVX-512 (widened in
// registers). Other rows are decoded into f32 tiles first.
bool rows_in_place(const KvLayout& kv) {
  return kv.dtype == kv::CacheDtype::F32 ||
         (kernels_use_avx512() && (kv.dtype == kv::CacheDtype::BF16 || kv.dtype == kv::CacheDtype::F16));
}

// Value rows [c0, c0 + n) for attn_accumulate: rows[j] and the offset (in values) of V in it, read
// from a decoded tile (V at its start, rows tile_row_bytes apart) or, without one, in place in the cache.
struct ValueRows {
  const uint8_t* const* rows;
  int64_t offset;
};
ValueRows value_rows(const KvLayout& kv, const void* tile, int64_t tile_row_bytes, int64_t v_at, int64_t c0, int64_t n) {
  tl.rows.resize(n);
  if (tile) {
    for (int64_t j = 0; j < n; ++j) tl.rows[j] = static_cast<const uint8_t*>(tile) + j * tile_row_bytes;
    return {tl.rows.data(), 0};
  }
  for (int64_t j = c0; j < c0 + n;) {  // one block-table lookup per contiguous run
    const int64_t e = kv.run_end(j, c0 + n);
    const uint8_t* row = kv.row(j);
    for (; j < e; ++j, row += kv.row_bytes) tl.rows[j - c0] = row;
  }
  return {tl.rows.data(), v_at};
}

// Decodes rows [c0, c0 + n) of a typed cache into f32 tiles: keys into ktile [n x d_k], values into
// vtile [n x d_v] (nullptr when V lies inside K). Rows of the next sub-block (below b) are fetched
// meanwhile, so the next decode reads from L2 instead of waiting on memory.
void decode_tile(const AttnShape& s, const KvLayout& kv, int64_t k_at, int64_t v_at, int64_t c0, int64_t n, int64_t b,
                 float* ktile, float* vtile) {
  for (int64_t j = 0; j < n; ++j) {
    if (c0 + kSubBlock + j < b) {
      prefetch_cache_values(kv.dtype, kv.row(c0 + kSubBlock + j), k_at, s.d_k);
      if (vtile) prefetch_cache_values(kv.dtype, kv.row(c0 + kSubBlock + j), v_at, s.d_v);
    }
    decode_cache_values(kv.dtype, kv.row(c0 + j), k_at, s.d_k, ktile + j * s.d_k);
    if (vtile) decode_cache_values(kv.dtype, kv.row(c0 + j), v_at, s.d_v, vtile + j * s.d_v);
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
  const bool typed = !rows_in_place(kv), half_in_place = kv.dtype != kv::CacheDtype::F32 && !typed;
  const bool is_f16 = kv.dtype == kv::CacheDtype::F16;
  const bool v_in_k = v_at >= k_at && v_at + s.d_v <= k_at + s.d_k;
  float* ktile = typed ? grow_aligned(tl.k, kSubBlock * s.d_k) : nullptr;
  float* vtile = !typed ? nullptr : v_in_k ? ktile + (v_at - k_at) : grow_aligned(tl.v, kSubBlock * s.d_v);
  const int64_t vtile_stride = v_in_k ? s.d_k : s.d_v;
  for (int64_t c0 = a; c0 < b; c0 += kSubBlock) {
    const int64_t n = std::min(kSubBlock, b - c0);
    if (typed) decode_tile(s, kv, k_at, v_at, c0, n, b, ktile, v_in_k ? nullptr : vtile);
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
    const ValueRows v = value_rows(kv, vtile, vtile_stride * int64_t{sizeof(float)}, v_at, c0, n);
    if (half_in_place)
      (is_f16 ? simd::attn_accumulate_f16 : simd::attn_accumulate_bf16)(scores, kSubBlock, 1, G, v.rows, v.offset, n,
                                                                        s.d_v, acc);
    else if (simd)
      simd::attn_accumulate(scores, kSubBlock, 1, G, v.rows, v.offset, n, s.d_v, acc);
    else
      for (int64_t j = 0; j < n; ++j)
        for (int64_t i = 0; i < G; ++i)
          axpy_f32(scores[i * kSubBlock + j], reinterpret_cast<const float*>(v.rows[j]) + v.offset, acc + i * s.d_v,
                   s.d_v);
  }
}

// The same fold with the heads in vector lanes (simd.h, attn_scores_lanes), for G >= kLaneHeads
// heads sharing each key row (absorbed MLA): groups of 16 heads, the last one padded with zero
// queries whose lanes are never stored. f32 and bf16 rows are read in place, fp8 / q8_0 decoded
// into f32 tiles. Where the CPU has AVX512_BF16 (and the kernel path allows it) bf16 rows, and the
// fp8 / q8_0 tiles rounded to bf16, go through `vdpbf16ps` (simd_attn_dot.h): q and the softmax
// weights rounded to bf16, every lane group scored before one P·V pass serves them all (each 32 dims
// of the value rows interleaved by pairs of rows once), on a transposed accumulator acc_t
// [groups x d_v x 16]. Otherwise bf16 rows are widened to f32 (attn_scores_lanes_bf16 /
// attn_accumulate_lanes_bf16, also on acc_t) and f32 / decoded rows run attn_scores_lanes and
// attn_accumulate on acc itself. f16 rows stay on fold_rows, which reads them in place
// (simd_avx512.cpp, Bf16Bcast).
void fold_rows_lanes(const AttnShape& s, const float* qg, int64_t G, const KvLayout& kv, int64_t g, int64_t a,
                     int64_t b, float* m, float* l, float* acc) {
  const int64_t groups = (G + 15) / 16, d_k = s.d_k, d_v = s.d_v;
  const bool bf16 = kv.dtype == kv::CacheDtype::BF16, typed = kv.dtype != kv::CacheDtype::F32 && !bf16;
  const bool dot = (bf16 || typed) && kernels_use_bf16_dot();
  const int64_t k_pairs = (d_k + 1) / 2;
  // q^T times the scale: [groups x d_k x 16] f32, or for `dot` [groups x k_pairs x 16] bf16 pairs.
  float* qt = dot ? nullptr : grow_aligned(tl.q, groups * d_k * 16);
  uint32_t* qp = dot ? grow_aligned(tl.q_pairs, groups * k_pairs * 16) : nullptr;
  float* acc_t = bf16 || dot ? grow_aligned(tl.acc_t, groups * d_v * 16) : nullptr;
  for (int64_t lg = 0; lg < groups; ++lg)
    for (int64_t i = 0; i < 16; ++i) {
      const int64_t h = 16 * lg + i;
      auto q_at = [&](int64_t d) { return h < G && d < d_k ? qg[h * d_k + d] * s.scale : 0.0f; };
      if (qp)
        for (int64_t d = 0; d < d_k; d += 2)
          qp[(lg * k_pairs + d / 2) * 16 + i] = f32_to_bf16(q_at(d)) | uint32_t{f32_to_bf16(q_at(d + 1))} << 16;
      else
        for (int64_t d = 0; d < d_k; ++d) qt[(lg * d_k + d) * 16 + i] = q_at(d);
      if (acc_t)
        for (int64_t d = 0; d < d_v; ++d) acc_t[(lg * d_v + d) * 16 + i] = h < G ? acc[h * d_v + d] : 0.0f;
    }
  float* scores = grow_aligned(tl.scores, groups * kSubBlock * 16);  // [groups x kSubBlock x 16]
  uint32_t* pp = dot ? grow_aligned(tl.p_pairs, groups * (kSubBlock / 2) * 16) : nullptr;  // [groups x pairs x 16]
  uint32_t* pair_tile = dot ? grow_aligned(tl.v_pairs, (kSubBlock / 2) * 32) : nullptr;  // simd_attn_dot.h
  const int64_t k_at = kv.k_offset + g * kv.k_head_stride, v_at = kv.v_offset + g * kv.v_head_stride;
  const bool v_in_k = v_at >= k_at && v_at + d_v <= k_at + d_k;
  float* ktile = typed ? grow_aligned(tl.k, kSubBlock * d_k) : nullptr;
  float* vtile = !typed ? nullptr : v_in_k ? ktile + (v_at - k_at) : grow_aligned(tl.v, kSubBlock * d_v);
  // Typed rows under `dot`: the decoded tiles rounded to bf16 ([n x d_k], and [n x d_v] when V lies
  // outside K), read by the same kernels as a bf16 cache.
  auto half_tile = [](std::vector<uint32_t>& v, int64_t n) { return reinterpret_cast<uint16_t*>(grow_aligned(v, (n + 1) / 2)); };
  uint16_t* ktile16 = dot && typed ? half_tile(tl.k16, kSubBlock * d_k) : nullptr;
  uint16_t* vtile16 = !ktile16 ? nullptr : v_in_k ? ktile16 + (v_at - k_at) : half_tile(tl.v16, kSubBlock * d_v);
  const int64_t tile_stride = v_in_k ? d_k : d_v;  // values from one row of vtile / vtile16 to the next
  for (int64_t c0 = a; c0 < b; c0 += kSubBlock) {
    const int64_t n = std::min(kSubBlock, b - c0), next = c0 + kSubBlock, pairs = (n + 1) / 2;
    if (typed) decode_tile(s, kv, k_at, v_at, c0, n, b, ktile, v_in_k ? nullptr : vtile);
    if (ktile16) {
      simd::x_to_bf16(ktile, n * d_k, ktile16);
      if (!v_in_k) simd::x_to_bf16(vtile, n * d_v, vtile16);
    }
    const ValueRows v = ktile16 ? value_rows(kv, vtile16, tile_stride * int64_t{sizeof(uint16_t)}, v_at, c0, n)
                                : value_rows(kv, vtile, tile_stride * int64_t{sizeof(float)}, v_at, c0, n);
    for (int64_t lg = 0; lg < groups; ++lg) {
      float* sc = scores + lg * kSubBlock * 16;
      const int64_t heads = std::min<int64_t>(16, G - 16 * lg);
      // The first group's pass prefetches the rows of the next sub-block.
      auto pf = [&](int64_t j0) { return lg == 0 && next + j0 < b ? kv.row(next + j0) : nullptr; };
      if (ktile16) {
        simd::attn_scores_lanes_dot(qp + lg * k_pairs * 16, d_k, ktile16, d_k, n, sc, nullptr);
      } else if (typed) {
        simd::attn_scores_lanes(qt + lg * d_k * 16, d_k, ktile, d_k, n, sc, nullptr);
      } else if (bf16) {
        for_each_run<uint16_t>(kv, nullptr, 0, k_at, c0, n, [&](int64_t j0, int64_t nj, const uint16_t* k, int64_t st) {
          const uint8_t* p = pf(j0);
          const uint16_t* p16 = p ? reinterpret_cast<const uint16_t*>(p) + k_at : nullptr;
          if (dot) return simd::attn_scores_lanes_dot(qp + lg * k_pairs * 16, d_k, k, st, nj, sc + 16 * j0, p16);
          simd::attn_scores_lanes_bf16(qt + lg * d_k * 16, d_k, k, st, nj, sc + 16 * j0, p16);
        });
      } else {
        for_each_run<float>(kv, nullptr, 0, k_at, c0, n, [&](int64_t j0, int64_t nj, const float* k, int64_t st) {
          const uint8_t* p = pf(j0);
          simd::attn_scores_lanes(qt + lg * d_k * 16, d_k, k, st, nj, sc + 16 * j0,
                                  p ? reinterpret_cast<const float*>(p) + k_at : nullptr);
        });
      }
      float corr[16];
      std::fill_n(corr, 16, 1.0f);  // padded lanes keep 1
      simd::attn_softmax_lanes(sc, n, heads, m + 16 * lg, l + 16 * lg, corr, dot);
      if (acc_t) {
        float* at = acc_t + lg * d_v * 16;
        if (std::any_of(corr, corr + 16, [](float c) { return c != 1.0f; })) simd::scale_lanes(at, d_v, corr);
        if (dot)  // P·V of every group below, once all are scored
          simd::attn_weight_pairs(sc, n, pp + lg * pairs * 16);
        else
          simd::attn_accumulate_lanes_bf16(sc, n, v.rows, v.offset, d_v, at);
        continue;
      }
      for (int64_t i = 0; i < heads; ++i)
        if (corr[i] != 1.0f) simd::scale_f32(acc + (16 * lg + i) * d_v, d_v, corr[i]);
      simd::attn_accumulate(sc, 1, 16, heads, v.rows, v.offset, n, d_v, acc + 16 * lg * d_v);
    }
    if (dot) simd::attn_accumulate_lanes_dot(pp, groups, v.rows, v.offset, n, d_v, pair_tile, acc_t);
  }
  if (acc_t)
    for (int64_t h = 0; h < G; ++h)
      for (int64_t d = 0; d < d_v; ++d) acc[h * d_v + d] = acc_t[((h / 16) * d_v + d) * 16 + h % 16];
}

// MHA / GQA with fewer than kLaneHeads query heads per kv head, under AVX-512: all H query heads of
// one query over rows [a, b) with the heads in lanes, 16 to a lane group (simd.h, attn_scores_heads),
// so each row streams from memory once, whole and in order, and serves every head (before, each kv
// head walked its own strided slice of the rows: docs/KERNELS.md section 7). Rows are f32, bf16 or
// f16 in place.
//   q: [H x d_k]; m, l: [H]; acc: [H x d_v]
void fold_rows_heads(const AttnShape& s, const float* q, const KvLayout& kv, int64_t a, int64_t b, float* m, float* l,
                     float* acc) {
  const int64_t H = s.n_head, G = H / s.n_head_kv, groups = (H + 15) / 16, d_k = s.d_k, d_v = s.d_v;
  float* qs = grow_aligned(tl.q, groups * 16 * d_k);  // [groups x 16 x d_k], times the scale; padded heads 0
  tl.offsets.resize(2 * groups * 16);
  int64_t *k_off = tl.offsets.data(), *v_off = k_off + groups * 16;
  for (int64_t i = 0; i < groups * 16; ++i) {
    const int64_t kv_head = i < H ? i / G : 0;  // padded heads read head 0's slice (valid memory, unused)
    k_off[i] = kv.k_offset + kv_head * kv.k_head_stride;
    v_off[i] = kv.v_offset + kv_head * kv.v_head_stride;
  }
  const simd::RowType type = kv.dtype == kv::CacheDtype::BF16  ? simd::RowType::BF16
                             : kv.dtype == kv::CacheDtype::F16 ? simd::RowType::F16
                                                               : simd::RowType::F32;
  // bf16 rows: every full 32-dim block of q as its 16 even dims, then its 16 odd dims (simd.h).
  const int64_t paired = type == simd::RowType::BF16 ? d_k & ~int64_t{31} : 0;
  for (int64_t i = 0; i < groups * 16; ++i)
    for (int64_t d = 0; d < d_k; ++d) {
      const int64_t from = d >= paired ? d : (d & ~int64_t{31}) + 2 * (d & 15) + ((d & 16) ? 1 : 0);
      qs[i * d_k + d] = i < H ? q[i * d_k + from] * s.scale : 0.0f;
    }
  // Rows per pass: the pass's rows stay in L2 from the scores (which prefetch them whole) to P·V and
  // to the other lane groups.
  const int64_t sub = std::clamp<int64_t>((int64_t{256} << 10) / kv.row_bytes, 4, kSubBlock);
  float* scores = grow_aligned(tl.scores, groups * sub * 16);  // [groups x sub x 16]
  for (int64_t c0 = a; c0 < b; c0 += sub) {
    const int64_t n = std::min(sub, b - c0), listed = std::min(n + 4, b - c0);
    const uint8_t* const* rows = value_rows(kv, nullptr, 0, 0, c0, listed).rows;
    for (int64_t lg = 0; lg < groups; ++lg) {
      const int64_t heads = std::min<int64_t>(16, H - 16 * lg);
      float* sc = scores + lg * sub * 16;
      // Only the first lane group prefetches: the others find the rows in L2.
      simd::attn_scores_heads(type, qs + lg * 16 * d_k, k_off + 16 * lg, d_k, rows, n, listed,
                              lg == 0 ? kv.row_bytes : 0, sc);
      float corr[16];
      std::fill_n(corr, 16, 1.0f);
      simd::attn_softmax_lanes(sc, n, heads, m + 16 * lg, l + 16 * lg, corr);
      for (int64_t i = 0; i < heads; ++i)
        if (corr[i] != 1.0f) simd::scale_f32(acc + (16 * lg + i) * d_v, d_v, corr[i]);
      simd::attn_accumulate_heads(type, sc, heads, v_off + 16 * lg, rows, n, d_v, acc + 16 * lg * d_v);
    }
  }
}

// Rows [c0, c0 + n) of a typed cache (fp8, q8_0, or any dtype on the portable path) decoded whole
// into this thread's f32 scratch, as a layout of f32 rows with kv's offsets.
KvLayout decoded_rows(const KvLayout& kv, int64_t c0, int64_t n) {
  const int64_t w = kv.row_width;
  float* tile = grow_aligned(tl.rows_f32, n * w);
  for (int64_t j = 0; j < n; ++j) decode_cache_values(kv.dtype, kv.row(c0 + j), 0, w, tile + j * w);
  return f32_rows(tile, w, kv.k_offset, kv.k_head_stride, kv.v_offset, kv.v_head_stride);
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

// How attend_block folds a cache (chosen once per call from the shape and the rows).
struct Walk {
  bool lanes;           // heads in lanes over rows every query head shares (fold_rows_lanes)
  bool heads_in_lanes;  // MHA / GQA, all heads in one pass over whole rows (fold_rows_heads)
  bool by_rows;         // several kv heads folded per sub-block of rows, in turn
  bool decode_rows;     // ... over rows decoded whole to f32 first (fp8, q8_0)
};
Walk plan_walk(const AttnShape& s, const KvLayout& kv) {
  const int64_t Hkv = s.n_head_kv, G = s.n_head / Hkv;
  Walk w{};
  w.lanes = G >= kLaneHeads && kernels_use_avx512() && kv.dtype != kv::CacheDtype::F16;
  const bool in_place = rows_in_place(kv);
  // MHA / GQA over rows read in place: every head in one pass over whole rows (fold_rows_heads). fp8 /
  // q8_0 rows stay on the decoded chunks below (measured faster there: docs/KERNELS.md section 7).
  w.heads_in_lanes = Hkv > 1 && G < kLaneHeads && kernels_use_avx512() && in_place;
  // Otherwise, with several kv heads (portable kernels, fp8 / q8_0 rows), an item walks its rows in
  // sub-blocks and folds each sub-block for all kv heads in turn, so every row streams from memory
  // once and whole (measured against one kv head at a time over all rows: docs/KERNELS.md).
  // Rows the kernels cannot read in place (fp8, q8_0) are then decoded whole, once per chunk, and
  // every head folds the f32 copy, instead of each head decoding its own slices.
  w.by_rows = Hkv > 1 && (in_place ? kSubBlock * kv.row_bytes : kDecodedRows * kv.row_width * int64_t{sizeof(float)}) <=
                             kChunkBytes;
  w.decode_rows = w.by_rows && !in_place;
  return w;
}

}  // namespace

bool attention_uses_bf16_dot(const AttnShape& s, const KvLayout& kv) {
  const Walk w = plan_walk(s, kv);
  // fold_rows_lanes' `dot`: over the cache's own rows (decoded f32 rows stay f32), of any dtype but f32.
  return w.lanes && !w.decode_rows && kv.dtype != kv::CacheDtype::F32 && kernels_use_bf16_dot();
}

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
  const int64_t H = s.n_head, Hkv = s.n_head_kv, G = H / Hkv;
  // Decoding has few queries: split each one's keys across threads (flash-decoding) so every thread
  // streams a part of the cache, then merge the partial softmaxes exactly.
  int64_t splits = 1;
  if (T < 2 * pool.size()) {
    const int64_t want = (2 * pool.size() + T - 1) / T;
    splits = std::clamp<int64_t>((j1 - j0) / kMinSplitRows, 1, want);
  }
  const int64_t items = T * splits;
  const Walk w = plan_walk(s, kv);
  const bool lanes = w.lanes, heads_in_lanes = w.heads_in_lanes, by_rows = w.by_rows, decode_rows = w.decode_rows;
  const int64_t chunk = !by_rows ? j1 - j0 : decode_rows ? kDecodedRows : kSubBlock;
  st.part_max.assign(items * H, kNegInf);
  st.part_sum.assign(items * H, 0.0f);
  st.part_acc.assign(items * H * s.d_v, 0.0f);

  pool.parallel_for(items, [&](int64_t i0, int64_t i1) {
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t t = item / splits, split = item % splits;
      const int64_t end = std::min(j1, p0 + t + 1);  // causal: query t sees tokens <= p0 + t
      if (end <= j0) continue;
      const int64_t a = j0 + (end - j0) * split / splits, b = j0 + (end - j0) * (split + 1) / splits;
      if (heads_in_lanes) {
        fold_rows_heads(s, q + t * H * s.d_k, kv, a - j0, b - j0, &st.part_max[item * H], &st.part_sum[item * H],
                        &st.part_acc[item * H * s.d_v]);
        continue;
      }
      for (int64_t c0 = a; c0 < b; c0 += chunk) {
        // decode_rows: rows [c0, c0 + chunk) as f32, [row_width] each
        const KvLayout rows = decode_rows ? decoded_rows(kv, c0 - j0, std::min(b, c0 + chunk) - c0) : KvLayout{};
        for (int64_t g = 0; g < Hkv; ++g) {
          // Each kv head's pass fetches its share of the next sub-block's rows, whole (with several kv
          // heads each pass reads only a strided slice of every row; measured: MHA 16 x 128 bf16
          // at 32k 10.0-10.8 -> 9.7 ms, `mla bench attention`).
          if (by_rows) {
            const int64_t n0 = c0 + chunk + chunk * g / Hkv, n1 = std::min(b, c0 + chunk + chunk * (g + 1) / Hkv);
            for (int64_t j = n0; j < n1; ++j)
              for (int64_t o = 0; o < kv.row_bytes; o += 64) __builtin_prefetch(kv.row(j - j0) + o, 0, 2);
          }
          const int64_t h = item * H + g * G;  // this item's state of kv head g's first query head
          const int64_t c1 = std::min(b, c0 + chunk);
          (lanes ? fold_rows_lanes : fold_rows)(s, q + (t * H + g * G) * s.d_k, G, decode_rows ? rows : kv, g,
                                                decode_rows ? 0 : c0 - j0, decode_rows ? c1 - c0 : c1 - j0,
                                                &st.part_max[h], &st.part_sum[h], &st.part_acc[h * s.d_v]);
        }
      }
    }
  });
  // Merge each query's splits into the running state, in order (deterministic).
  pool.parallel_for(T * H, [&](int64_t h0, int64_t h1) {
    for (int64_t th = h0; th < h1; ++th) {
      const int64_t t = th / H, h = th % H;
      for (int64_t split = 0; split < splits; ++split) {
        const int64_t part = (t * splits + split) * H + h;
        merge_state(s.d_v, st.max[th], st.sum[th], &st.acc[th * s.d_v], st.part_max[part], st.part_sum[part],
                    &st.part_acc[part * s.d_v]);
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
