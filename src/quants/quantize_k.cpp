// Q2_K, Q3_K, Q4_K, Q5_K, Q6_K: ggml's reference K-quantizers (ggml-quants.c
// quantize_row_<type>_ref with the scale searches make_qkx2_quants, make_q3_quants and
// make_qx_quants), written out with the arithmetic in ggml's order so the blocks equal its.
// Every format works in two steps per 256-value super-block:
//   1. per sub-block (16 or 32 values) a float scale (and min) chosen by a small search;
//   2. those scales quantized to 4, 6 or 8 bits against one f16 super-scale, then every value
//      re-rounded against its sub-block's stored (quantized) scale, and packed.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quants/block_formats.h"
#include "quants/quantize_k.h"
#include "quants/quantize_math.h"
#include "tensor/dtype.h"

namespace mla {
namespace {

template <class Block>
Block* blocks_at(uint8_t* out) {
  static_assert(alignof(Block) <= 2);
  return reinterpret_cast<Block*>(out);
}

int clamp(int v, int lo, int hi) { return std::max(lo, std::min(hi, v)); }

// Asymmetric codes x ~ scale * L - min_out, L in [0, nmax] (make_qkx2_quants). Minimises
// sum w_i * err_i with err = |scale L + min - x| (use_mad) or its square, over the trial inverse
// scales (rmin + rdelta * s + nmax) / (max - min), s = 0..nstep: for each trial's codes, scale and
// min are the weighted least-squares solution (min clamped to <= 0, i.e. the offset never raises
// the values). Returns scale; *min_out = -min >= 0. L must hold n codes, aux is scratch.
float fit_scale_min(int n, int nmax, const float* x, const float* w, uint8_t* L, float* min_out, uint8_t* aux,
                    float rmin, float rdelta, int nstep, bool use_mad) {
  float lo = x[0], hi = x[0], sum_w = w[0], sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (lo > 0) lo = 0;
  if (hi == lo) {
    std::fill(L, L + n, 0);
    *min_out = -lo;
    return 0.f;
  }
  auto error = [&](const uint8_t* codes, float scale, float min) {
    float e = 0;
    for (int i = 0; i < n; ++i) {
      float diff = scale * codes[i] + min - x[i];
      diff = use_mad ? std::fabs(diff) : diff * diff;
      e += w[i] * diff;
    }
    return e;
  };
  // `min` is both the offset of the best fit so far and the origin of the next trial's grid (as
  // in ggml: after an improvement the later trials quantize x - this_min over [this_min, hi]).
  float iscale = nmax / (hi - lo), scale = 1 / iscale, min = lo;
  for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(clamp(nearest_int(iscale * (x[i] - min)), 0, nmax));
  float best_error = error(L, scale, min);
  for (int s = 0; s <= nstep; ++s) {
    iscale = (rmin + rdelta * s + nmax) / (hi - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = clamp(nearest_int(iscale * (x[i] - min)), 0, nmax);
      aux[i] = static_cast<uint8_t>(l);
      sum_l += w[i] * l;
      sum_l2 += w[i] * l * l;
      sum_xl += w[i] * l * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D <= 0) continue;
    float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D, this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
    if (this_min > 0) {
      this_min = 0;
      this_scale = sum_xl / sum_l2;
    }
    const float e = error(aux, this_scale, this_min);
    if (e < best_error) {
      std::copy(aux, aux + n, L);
      best_error = e;
      scale = this_scale;
      min = this_min;
    }
  }
  *min_out = -min;
  return scale;
}

// Symmetric signed codes x ~ scale * (L - nmax), L - nmax in [-nmax, nmax - 1] (make_qx_quants
// with rmse_type 1): the largest magnitude sits on -nmax; minimises sum x^2 (x - scale l)^2 over
// 19 trial inverse scales -(nmax + 0.1 t) / max, t = -9..9, scale the least-squares fit of each.
float fit_scale_signed(int n, int nmax, const float* x, int8_t* L) {
  const float max = largest_magnitude(n, x), amax = std::fabs(max);
  if (amax < kGroupMaxEps) {
    std::fill(L, L + n, 0);
    return 0.f;
  }
  auto sums = [&](float iscale, float& sumlx, float& suml2) {
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
      const float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
  };
  auto assign = [&](float iscale) {
    for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(nmax + clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1));
  };
  float iscale = -nmax / max, sumlx, suml2;
  assign(iscale);
  sums(iscale, sumlx, suml2);
  float scale = suml2 ? sumlx / suml2 : 0.0f, best = scale * sumlx;
  for (int t = -9; t <= 9; ++t) {
    if (t == 0) continue;
    iscale = -(nmax + 0.1f * t) / max;
    sums(iscale, sumlx, suml2);
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      assign(iscale);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Q3_K's sub-block fit (make_q3_quants with do_rmse): start from the largest magnitude on -nmax,
// then up to 5 sweeps of coordinate descent on sum x^2 (x - scale l)^2 with scale re-fitted by
// least squares: each l moves to round(x * suml2' / sumlx') (the others' sums) when that raises
// sumlx^2 / suml2. L gets l + nmax in [0, 2 nmax - 1].
float fit_scale_q3(int n, int nmax, const float* x, int8_t* L) {
  const float max = largest_magnitude(n, x), amax = std::fabs(max);
  if (amax < kGroupMaxEps) {
    std::fill(L, L + n, 0);
    return 0.f;
  }
  const float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    L[i] = static_cast<int8_t>(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  for (int sweep = 0; sweep < 5; ++sweep) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * L[i];
      if (slx <= 0) continue;
      float sl2 = suml2 - w * L[i] * L[i];
      const int new_l = clamp(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
      if (new_l == L[i]) continue;
      slx += w * x[i] * new_l;
      sl2 += w * new_l * new_l;
      if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
        L[i] = static_cast<int8_t>(new_l);
        sumlx = slx;
        suml2 = sl2;
        ++changed;
      }
    }
    if (!changed) break;
  }
  for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// 2-bit fields of 256 codes as Q2_K / Q3_K store them: per half h (128 values), value
// 128 h + 32 s + l in bits 2s of qs[32 h + l].
void pack2(const uint8_t* L, uint8_t qs[64]) {
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      const uint8_t* c = L + 128 * h + l;
      qs[32 * h + l] = static_cast<uint8_t>(c[0] | c[32] << 2 | c[64] << 4 | c[96] << 6);
    }
}

// Q4_K / Q5_K: 8 sub-blocks of 32 with an asymmetric fit each (weights sqrt(mean x^2) + |x|,
// trial steps -1 + 0.1 s for Q4_K, -0.5 + 0.1 s for Q5_K), scales and mins quantized to 6 bits
// against d = max scale / 63 and dmin = max min / 63, codes re-rounded for the stored values.
template <class Block>
void quantize_k4_like(const float* x, Block& y, int nmax, float rmin, int nstep, uint8_t L[256]) {
  float scales[8], mins[8], max_scale = 0, max_min = 0, w[32];
  uint8_t aux[32];
  for (int j = 0; j < 8; ++j) {
    const float* xs = x + 32 * j;
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) w[l] = av_x + std::fabs(xs[l]);
    scales[j] = fit_scale_min(32, nmax, xs, w, L + 32 * j, &mins[j], aux, rmin, 0.1f, nstep, false);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f, inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  std::memset(y.scales, 0, sizeof y.scales);
  for (int j = 0; j < 8; ++j) {  // the 6-bit packing that k4_scale_min reads
    const uint8_t ls = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[j])));
    const uint8_t lm = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[j])));
    if (j < 4) {
      y.scales[j] = ls;
      y.scales[j + 4] = lm;
    } else {
      y.scales[j + 4] = static_cast<uint8_t>((ls & 15) | (lm & 15) << 4);
      y.scales[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
      y.scales[j] |= static_cast<uint8_t>((lm >> 4) << 6);
    }
  }
  y.d = f32_to_f16(max_scale / 63.f);
  y.dmin = f32_to_f16(max_min / 63.f);
  for (int j = 0; j < 8; ++j) {
    int sc, m;
    k4_scale_min(y.scales, j, sc, m);
    const float d = f16_to_f32(y.d) * static_cast<float>(sc);
    if (d == 0) continue;
    const float dm = f16_to_f32(y.dmin) * static_cast<float>(m);
    for (int l = 0; l < 32; ++l) L[32 * j + l] = static_cast<uint8_t>(clamp(nearest_int((x[32 * j + l] + dm) / d), 0, nmax));
  }
}

}  // namespace

// Q2_K: 16 sub-blocks of 16, codes 0..3 with an asymmetric fit minimising sum |x| |err| (mean
// absolute error weighted by |x|, trial steps -0.5 + 0.1 s, s <= 15); scales and mins to 4 bits
// against d = max scale / 15 and dmin = max min / 15.
void quantize_row_q2_k(const float* x, uint8_t* out, int64_t k) {
  BlockQ2_K* y = blocks_at<BlockQ2_K>(out);
  for (int64_t i = 0; i < k / kSuperBlock; ++i, x += kSuperBlock) {
    uint8_t L[256], aux[16];
    float w[16], scales[16], mins[16], max_scale = 0, max_min = 0;
    for (int j = 0; j < 16; ++j) {
      for (int l = 0; l < 16; ++l) w[l] = std::fabs(x[16 * j + l]);
      scales[j] = fit_scale_min(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], aux, -0.5f, 0.1f, 15, true);
      max_scale = std::max(max_scale, scales[j]);
      max_min = std::max(max_min, mins[j]);
    }
    if (max_scale > 0) {
      const float iscale = 15.f / max_scale;
      for (int j = 0; j < 16; ++j) y[i].scales[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
      y[i].d = f32_to_f16(max_scale / 15.f);
    } else {
      std::memset(y[i].scales, 0, 16);
      y[i].d = f32_to_f16(0.f);
    }
    if (max_min > 0) {
      const float iscale = 15.f / max_min;
      for (int j = 0; j < 16; ++j) y[i].scales[j] |= static_cast<uint8_t>(nearest_int(iscale * mins[j]) << 4);
      y[i].dmin = f32_to_f16(max_min / 15.f);
    } else {
      y[i].dmin = f32_to_f16(0.f);
    }
    for (int j = 0; j < 16; ++j) {
      const float d = f16_to_f32(y[i].d) * static_cast<float>(y[i].scales[j] & 15);
      if (d == 0) continue;
      const float dm = f16_to_f32(y[i].dmin) * static_cast<float>(y[i].scales[j] >> 4);
      for (int l = 0; l < 16; ++l) L[16 * j + l] = static_cast<uint8_t>(clamp(nearest_int((x[16 * j + l] + dm) / d), 0, 3));
    }
    pack2(L, y[i].qs);
  }
}

// Q3_K: 16 sub-blocks of 16, signed codes -4..3 (fit_scale_q3); the scales as signed 6-bit
// multiples of d = -(scale of largest magnitude) / 32, stored + 32 (the packing q3_k_scales reads).
void quantize_row_q3_k(const float* x, uint8_t* out, int64_t k) {
  BlockQ3_K* y = blocks_at<BlockQ3_K>(out);
  for (int64_t i = 0; i < k / kSuperBlock; ++i, x += kSuperBlock) {
    int8_t L[256];
    float scales[16];
    for (int j = 0; j < 16; ++j) scales[j] = fit_scale_q3(16, 4, x + 16 * j, L + 16 * j);
    const float max_scale = largest_magnitude(16, scales);
    std::memset(y[i].scales, 0, 12);
    if (max_scale != 0) {
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < 16; ++j) {
        const int l = clamp(static_cast<int8_t>(nearest_int(iscale * scales[j])), -32, 31) + 32;
        y[i].scales[j % 8] |= static_cast<uint8_t>((l & 15) << (4 * (j / 8)));
        y[i].scales[8 + j % 4] |= static_cast<uint8_t>((l >> 4) << (2 * (j / 4)));
      }
      y[i].d = f32_to_f16(1 / iscale);
    } else {
      y[i].d = f32_to_f16(0.f);
    }
    int sc[16];
    q3_k_scales(y[i].scales, sc);
    for (int j = 0; j < 16; ++j) {
      const float d = f16_to_f32(y[i].d) * static_cast<float>(sc[j]);
      if (d == 0) continue;
      for (int l = 0; l < 16; ++l) L[16 * j + l] = static_cast<int8_t>(clamp(nearest_int(x[16 * j + l] / d), -4, 3) + 4);
    }
    // High bit of value j (code > 3) in bit j / 32 of hmask[j % 32]; the low 2 bits as Q2_K.
    uint8_t low[256];
    std::memset(y[i].hmask, 0, 32);
    for (int j = 0; j < 256; ++j) {
      const bool high = L[j] > 3;
      if (high) y[i].hmask[j % 32] |= static_cast<uint8_t>(1 << (j / 32));
      low[j] = static_cast<uint8_t>(high ? L[j] - 4 : L[j]);
    }
    pack2(low, y[i].qs);
  }
}

// Q4_K: codes 0..15, value 64 k + l (l < 32) in the low nibble of qs[32 k + l], 64 k + 32 + l
// in its high nibble.
void quantize_row_q4_k(const float* x, uint8_t* out, int64_t k) {
  BlockQ4_K* y = blocks_at<BlockQ4_K>(out);
  for (int64_t i = 0; i < k / kSuperBlock; ++i, x += kSuperBlock) {
    uint8_t L[256];
    quantize_k4_like(x, y[i], 15, -1.f, 20, L);
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l) y[i].qs[32 * c + l] = static_cast<uint8_t>(L[64 * c + l] | L[64 * c + 32 + l] << 4);
  }
}

// Q5_K: codes 0..31, nibbles as Q4_K, fifth bit of sub-block j's value l in bit j of qh[l].
void quantize_row_q5_k(const float* x, uint8_t* out, int64_t k) {
  BlockQ5_K* y = blocks_at<BlockQ5_K>(out);
  for (int64_t i = 0; i < k / kSuperBlock; ++i, x += kSuperBlock) {
    uint8_t L[256];
    quantize_k4_like(x, y[i], 31, -0.5f, 15, L);
    std::memset(y[i].qh, 0, 32);
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l) {
        const uint8_t lo = L[64 * c + l], hi = L[64 * c + 32 + l];
        y[i].qs[32 * c + l] = static_cast<uint8_t>((lo & 15) | (hi & 15) << 4);
        y[i].qh[l] |= static_cast<uint8_t>((lo >> 4) << (2 * c) | (hi >> 4) << (2 * c + 1));
      }
  }
}

// Q6_K: 16 sub-blocks of 16, signed codes -32..31 (fit_scale_signed, nmax 32); scales as int8
// multiples of d = -(scale of largest magnitude) / 128.
void quantize_row_q6_k(const float* x, uint8_t* out, int64_t k) {
  BlockQ6_K* y = blocks_at<BlockQ6_K>(out);
  for (int64_t i = 0; i < k / kSuperBlock; ++i, x += kSuperBlock) {
    int8_t L[256];
    float scales[16], max_scale = 0, max_abs = 0;
    for (int j = 0; j < 16; ++j) {
      scales[j] = fit_scale_signed(16, 32, x + 16 * j, L + 16 * j);
      if (std::fabs(scales[j]) > max_abs) {
        max_abs = std::fabs(scales[j]);
        max_scale = scales[j];
      }
    }
    if (max_abs < kGroupMaxEps) {  // all zero: zero block
      std::memset(&y[i], 0, sizeof(BlockQ6_K));
      continue;
    }
    const float iscale = -128.f / max_scale;
    y[i].d = f32_to_f16(1 / iscale);
    for (int j = 0; j < 16; ++j) y[i].scales[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[j])));
    for (int j = 0; j < 16; ++j) {
      const float d = f16_to_f32(y[i].d) * static_cast<float>(y[i].scales[j]);
      if (d == 0) continue;
      for (int l = 0; l < 16; ++l) L[16 * j + l] = static_cast<int8_t>(clamp(nearest_int(x[16 * j + l] / d), -32, 31) + 32);
    }
    // Per half h: low nibbles of values 128 h + 32 s + l in ql[64 h + l + 32 (s & 1)] (nibble
    // s / 2), high 2 bits at bits 2 s of qh[32 h + l].
    for (int h = 0; h < 2; ++h)
      for (int l = 0; l < 32; ++l) {
        const int8_t* c = L + 128 * h + l;
        y[i].ql[64 * h + l] = static_cast<uint8_t>((c[0] & 15) | (c[64] & 15) << 4);
        y[i].ql[64 * h + l + 32] = static_cast<uint8_t>((c[32] & 15) | (c[96] & 15) << 4);
        y[i].qh[32 * h + l] = static_cast<uint8_t>((c[0] >> 4) | (c[32] >> 4) << 2 | (c[64] >> 4) << 4 | (c[96] >> 4) << 6);
      }
  }
}

}  // namespace mla
