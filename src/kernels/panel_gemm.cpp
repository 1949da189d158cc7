// Prefill products on panels (panel_gemm.h): the activation preparation, the weight formats as a
// table of unpackers, the tiling over threads, and the scalar twins of the micro-kernels.
#include "kernels/panel_gemm.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "kernels/simd_panel.h"
#include "quants/int8_unpack.h"
#include "tensor/dtype.h"

namespace mla::panel {
namespace {

// Columns per panel chunk: 2048 values, so a 32-row panel is 128 KiB (bf16) or 72 KiB (int8) and
// stays in L2 while all input rows pass over it; longer rows (MLP down projections, 10944+ wide)
// are done in several chunks that add into Y.
constexpr int64_t kChunkValues = 2048;

// ---- Weight formats on the int8 path: quants/int8_unpack.h's form w = d (u - off) + m per sub-block,
// with SIMD packers for the formats whose bytes need no more than masks, shifts or a 16-entry table
// (Q8_0: q + 128 by a sign-bit flip, Q4_0 / IQ4_NL / Q5_0 / Q2_K..Q6_K / IQ4_XS); the others unpack each
// row's blocks with the scalar unpacker and transpose the bytes with pack_dwords16.
struct PanelFormat {
  const Int8Form* form;
  void (*pack16)(const uint8_t* const* rows, int64_t b0, int64_t nb, uint8_t* panel);  // or nullptr
};

PanelFormat panel_format(DType t) {
  if (t == DType::Q8_0) return {int8_form(t), simd::pack_q8_0_16};
  if (t == DType::Q4_0) return {int8_form(t), simd::pack_q4_0_16};
  if (t == DType::IQ4_NL) return {int8_form(t), simd::pack_iq4_nl_16};
  if (t == DType::Q5_0) return {int8_form(t), simd::pack_q5_0_16};
  if (t == DType::Q2_K) return {int8_form(t), simd::pack_q2_k_16};
  if (t == DType::Q3_K) return {int8_form(t), simd::pack_q3_k_16};
  if (t == DType::Q4_K) return {int8_form(t), simd::pack_q4_k_16};
  if (t == DType::Q5_K) return {int8_form(t), simd::pack_q5_k_16};
  if (t == DType::Q6_K) return {int8_form(t), simd::pack_q6_k_16};
  if (t == DType::IQ4_XS) return {int8_form(t), simd::pack_iq4_xs_16};
  return {int8_form(t), nullptr};
}

// ---- Packing one chunk of one 32-row tile (rows past W's end are zero) ----

const uint8_t* row_ptr(const Matrix& W, int64_t r) { return W.data + static_cast<size_t>(r) * W.row_bytes(); }

// Dwords [s0, s0 + steps) of rows [r0, r0 + 32): panel[s][r / 16][r % 16]. simd: by 16 x 16 transposes.
void pack_bf16(const Matrix& W, int64_t r0, int64_t s0, int64_t steps, uint32_t* panel, bool simd) {
  const uint8_t* rows[kTileRows];
  for (int64_t r = 0; r < kTileRows; ++r) rows[r] = r0 + r < W.rows ? row_ptr(W, r0 + r) + 4 * s0 : nullptr;
  if (simd) {
    simd::pack_dwords16(rows, steps, panel);
    simd::pack_dwords16(rows + 16, steps, panel + 16);
    return;
  }
  for (int64_t r = 0; r < kTileRows; ++r)
    for (int64_t s = 0; s < steps; ++s) {
      uint32_t v = 0;
      if (rows[r] != nullptr) std::memcpy(&v, rows[r] + 4 * s, 4);
      panel[s * kTileRows + r] = v;
    }
}

// 32-value blocks [b0, b0 + nb) of rows [r0, r0 + 32) as their sub-blocks: sub / 4 steps of 4 bytes
// per lane, then d (and m). simd: by 16 x 16 dword transposes.
void pack_int8(const PanelFormat& f, const Matrix& W, int64_t r0, int64_t b0, int64_t nb, uint8_t* panel, bool simd) {
  const uint8_t* rows[kTileRows];
  for (int64_t r = 0; r < kTileRows; ++r) rows[r] = r0 + r < W.rows ? row_ptr(W, r0 + r) : nullptr;
  if (simd && f.pack16 != nullptr) {
    f.pack16(rows, b0, nb, panel);
    f.pack16(rows + 16, b0, nb, panel + 64);
    return;
  }
  const Int8Form& form = *f.form;
  const int subs = kBlock / form.sub, steps = form.sub / 4;
  const int64_t sub_bytes = simd::int8_sub_bytes(form.sub, form.has_min);
  alignas(64) uint8_t u[kTileRows][kBlock];
  for (int64_t b = 0; b < nb; ++b) {
    float d[kTileRows][2] = {}, m[kTileRows][2] = {};
    for (int64_t r = 0; r < kTileRows; ++r) {
      if (rows[r] != nullptr)
        form.unpack(rows[r], b0 + b, u[r], d[r], m[r]);
      else
        std::memset(u[r], 0, kBlock);
    }
    for (int h = 0; h < subs; ++h) {
      uint8_t* pb = panel + (b * subs + h) * sub_bytes;
      if (simd) {
        const uint8_t* sub_rows[kTileRows];
        for (int64_t r = 0; r < kTileRows; ++r) sub_rows[r] = u[r] + h * form.sub;
        simd::pack_dwords16(sub_rows, steps, reinterpret_cast<uint32_t*>(pb));
        simd::pack_dwords16(sub_rows + 16, steps, reinterpret_cast<uint32_t*>(pb) + 16);
      } else {
        for (int64_t r = 0; r < kTileRows; ++r)
          for (int k = 0; k < steps; ++k) std::memcpy(pb + k * 128 + r * 4, u[r] + h * form.sub + 4 * k, 4);
      }
      float* dm = reinterpret_cast<float*>(pb + steps * 128);
      for (int64_t r = 0; r < kTileRows; ++r) {
        dm[r] = d[r][h];
        if (form.has_min) dm[kTileRows + r] = m[r][h];
      }
    }
  }
}

// ---- Scalar twins of simd::panel_bf16 / panel_int8 (same panels, same prepared inputs) ----

void store(float* y, double v, bool accumulate) { *y = accumulate ? *y + static_cast<float>(v) : static_cast<float>(v); }

void panel_bf16_scalar(const uint32_t* panel, int64_t steps, const uint32_t* x, int64_t ldx, int64_t n, float* y,
                       int64_t ldy, int64_t live_rows, bool accumulate) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = 0; r < live_rows; ++r) {
      double acc = 0;
      for (int64_t s = 0; s < steps; ++s) {
        const uint32_t w = panel[s * kTileRows + r], v = x[i * ldx + s];
        acc += static_cast<double>(bf16_to_f32(w & 0xffff)) * bf16_to_f32(v & 0xffff) +
               static_cast<double>(bf16_to_f32(w >> 16)) * bf16_to_f32(v >> 16);
      }
      store(&y[i * ldy + r], acc, accumulate);
    }
}

void panel_int8_scalar(const uint8_t* panel, int64_t subs, int sub, bool has_min, const simd::Int8PanelX& x, int64_t n,
                       float* y, int64_t ldy, int64_t live_rows, bool accumulate) {
  const int64_t sub_bytes = simd::int8_sub_bytes(sub, has_min);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = 0; r < live_rows; ++r) {
      double acc = 0;
      for (int64_t b = 0; b < subs; ++b) {
        const uint8_t* pb = panel + b * sub_bytes;
        const float* dm = reinterpret_cast<const float*>(pb + sub / 4 * 128);
        int32_t dot = x.s[i * x.ldd + b];
        for (int v = 0; v < sub; ++v) dot += pb[(v / 4) * 128 + r * 4 + v % 4] * x.q[i * x.ldq + b * sub + v];
        acc += static_cast<double>(dm[r]) * x.d[i * x.ldd + b] * dot;
        if (has_min) acc += static_cast<double>(dm[kTileRows + r]) * x.xs[i * x.ldd + b];
      }
      store(&y[i * ldy + r], acc, accumulate);
    }
}

// ---- Activation preparation, scalar (the SIMD versions are in simd_panel.cpp) ----

void x_to_bf16_scalar(const float* x, int64_t n, uint16_t* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = f32_to_bf16(x[i]);
}

void quantize_x_blocks_scalar(const float* x, int64_t cols, int32_t off, int8_t* q, float* d, int32_t* s) {
  for (int64_t b = 0; b < cols / kBlock; ++b) {
    const float* xb = x + b * kBlock;
    float amax = 0;
    for (int v = 0; v < kBlock; ++v) amax = std::max(amax, std::fabs(xb[v]));
    const float inv = amax != 0.0f ? 127.0f / amax : 0.0f;
    int32_t sum = 0;
    for (int v = 0; v < kBlock; ++v) {
      q[b * kBlock + v] = static_cast<int8_t>(std::nearbyint(xb[v] * inv));
      sum += q[b * kBlock + v];
    }
    d[b] = amax / 127.0f;
    s[b] = -off * sum;
  }
}

// Per calling thread: the prepared activations (shared read-only by the workers during one call)
// and each worker's panel, grown to the largest call seen so nothing is allocated per product.
thread_local std::vector<uint16_t> tl_xb;
thread_local std::vector<int8_t> tl_xq;
thread_local std::vector<float> tl_xd;
thread_local std::vector<int32_t> tl_xs;
thread_local std::vector<float> tl_xsub_d, tl_xsub_sum;  // per sub-block d_x and d_x * sum(q_x)
thread_local std::vector<int32_t> tl_xsub_s;
thread_local std::vector<uint8_t> tl_panel;

// [0, n) split over the pool's threads, or all on the calling thread (pool == nullptr).
template <class F>
void split(ThreadPool* pool, int64_t n, F&& body) {
  if (pool != nullptr)
    pool->parallel_for(n, body);
  else if (n > 0)
    body(int64_t{0}, n);
}

template <class T>
T* sized(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

void matmul_bf16(ThreadPool* pool, const Matrix& W, const float* X, int64_t n, float* Y, bool simd) {
  const int64_t K = W.cols, steps = K / 2;
  uint16_t* xb = sized(tl_xb, static_cast<size_t>(n * K));
  split(pool, n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) (simd ? simd::x_to_bf16 : x_to_bf16_scalar)(X + i * K, K, xb + i * K);
  });
  const uint32_t* x32 = reinterpret_cast<const uint32_t*>(xb);
  const int64_t chunk = kChunkValues / 2;
  split(pool, (W.rows + kTileRows - 1) / kTileRows, [&](int64_t t0, int64_t t1) {
    uint32_t* panel = reinterpret_cast<uint32_t*>(sized(tl_panel, static_cast<size_t>(chunk * kTileRows * 4)));
    for (int64_t t = t0; t < t1; ++t)
      for (int64_t s0 = 0; s0 < steps; s0 += chunk) {
        const int64_t ns = std::min(chunk, steps - s0), r0 = t * kTileRows, live = std::min(kTileRows, W.rows - r0);
        pack_bf16(W, r0, s0, ns, panel, simd);
        (simd ? simd::panel_bf16 : panel_bf16_scalar)(panel, ns, x32 + s0, steps, n, Y + r0, W.rows, live, s0 > 0);
      }
  });
}

// Per sub-block of `sub` values of X's quantized rows [i0, i1) (q, d per 32 values): d_x, the sum's
// start -off * sum(q_x) and d_x * sum(q_x); rows of `subs` entries.
void x_per_sub(const int8_t* q, const float* d, int64_t K, int sub, int32_t off, int64_t i0, int64_t i1, float* sd,
               int32_t* ss, float* sx) {
  const int64_t subs = K / sub;
  for (int64_t i = i0; i < i1; ++i)
    for (int64_t b = 0; b < subs; ++b) {
      int32_t sum = 0;
      for (int v = 0; v < sub; ++v) sum += q[i * K + b * sub + v];
      const float dx = d[i * (K / kBlock) + b * sub / kBlock];
      sd[i * subs + b] = dx;
      ss[i * subs + b] = -off * sum;
      sx[i * subs + b] = dx * static_cast<float>(sum);
    }
}

void matmul_int8(ThreadPool* pool, const PanelFormat& f, const Matrix& W, const float* X, int64_t n, float* Y,
                 bool simd) {
  const Int8Form& form = *f.form;
  const int64_t K = W.cols, blocks = K / kBlock, subs = K / form.sub, per_block = kBlock / form.sub;
  int8_t* q = sized(tl_xq, static_cast<size_t>(n * K));
  float* d = sized(tl_xd, static_cast<size_t>(n * blocks));
  int32_t* xs = sized(tl_xs, static_cast<size_t>(n * blocks));
  // Q8_0-like formats (32 values per scale, no min) use the per-block d and s as they come.
  const bool per_sub = form.sub != kBlock || form.has_min;
  float* sd = per_sub ? sized(tl_xsub_d, static_cast<size_t>(n * subs)) : d;
  int32_t* ss = per_sub ? sized(tl_xsub_s, static_cast<size_t>(n * subs)) : xs;
  float* sx = per_sub ? sized(tl_xsub_sum, static_cast<size_t>(n * subs)) : nullptr;
  split(pool, n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
      (simd ? simd::quantize_x_blocks : quantize_x_blocks_scalar)(X + i * K, K, form.off, q + i * K, d + i * blocks,
                                                                 xs + i * blocks);
    if (per_sub) x_per_sub(q, d, K, form.sub, form.off, i0, i1, sd, ss, sx);
  });
  const int64_t chunk = kChunkValues / kBlock;
  split(pool, (W.rows + kTileRows - 1) / kTileRows, [&](int64_t t0, int64_t t1) {
    uint8_t* panel = sized(tl_panel, static_cast<size_t>(chunk * per_block * simd::int8_sub_bytes(form.sub, form.has_min)));
    for (int64_t t = t0; t < t1; ++t)
      for (int64_t b0 = 0; b0 < blocks; b0 += chunk) {
        const int64_t nb = std::min(chunk, blocks - b0), r0 = t * kTileRows, live = std::min(kTileRows, W.rows - r0);
        pack_int8(f, W, r0, b0, nb, panel, simd);
        const int64_t s0 = b0 * per_block;
        const simd::Int8PanelX x{q + b0 * kBlock, K, sd + s0, ss + s0, sx != nullptr ? sx + s0 : nullptr, subs};
        (simd ? simd::panel_int8 : panel_int8_scalar)(panel, nb * per_block, form.sub, form.has_min, x, n, Y + r0,
                                                       W.rows, live, b0 > 0);
      }
  });
}

}  // namespace

ActivationRounding rounding_for(DType t) {
  if (t == DType::BF16) return ActivationRounding::Bf16;
  if (int8_form(t) != nullptr) return ActivationRounding::Int8Blocks;
  return ActivationRounding::None;
}

void round_activations(DType t, const float* X, int64_t n, int64_t cols, float* out) {
  if (rounding_for(t) == ActivationRounding::Bf16) {
    for (int64_t i = 0; i < n * cols; ++i) out[i] = bf16_to_f32(f32_to_bf16(X[i]));
    return;
  }
  const int32_t off = int8_form(t)->off;  // only sets the block sums s, not used here
  int8_t* q = sized(tl_xq, static_cast<size_t>(cols));
  float* d = sized(tl_xd, static_cast<size_t>(cols / kBlock));
  int32_t* s = sized(tl_xs, static_cast<size_t>(cols / kBlock));
  for (int64_t i = 0; i < n; ++i) {
    quantize_x_blocks_scalar(X + i * cols, cols, off, q, d, s);
    for (int64_t c = 0; c < cols; ++c) out[i * cols + c] = d[c / kBlock] * static_cast<float>(q[c]);
  }
}

namespace {

void matmul_on(ThreadPool* pool, const Matrix& W, const float* X, int64_t n, float* Y, Impl impl) {
  const bool simd = impl == Impl::Simd;
  switch (rounding_for(W.dtype)) {
    case ActivationRounding::Bf16:
      if (W.cols % 2 != 0) fail("panel::matmul: bf16 rows need an even column count, got ", W.cols);
      return matmul_bf16(pool, W, X, n, Y, simd);
    case ActivationRounding::Int8Blocks:
      if (W.cols % kBlock != 0) fail("panel::matmul: block rows need a multiple of 32 columns, got ", W.cols);
      return matmul_int8(pool, panel_format(W.dtype), W, X, n, Y, simd);
    case ActivationRounding::None:
      break;
  }
  fail("panel::matmul: no panel kernel for ", dtype_name(W.dtype));
}

}  // namespace

void matmul(ThreadPool& pool, const Matrix& W, const float* X, int64_t n, float* Y, Impl impl) {
  matmul_on(&pool, W, X, n, Y, impl);
}

void matmul_serial(const Matrix& W, const float* X, int64_t n, float* Y, Impl impl) { matmul_on(nullptr, W, X, n, Y, impl); }

}  // namespace mla::panel
