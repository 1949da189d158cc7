// Prefill products on panels (panel_gemm.h): the activation preparation, the weight formats as a
// table of unpackers, the tiling over threads, and the scalar twins of the micro-kernels.
#include "kernels/panel_gemm.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "kernels/simd_panel.h"
#include "tensor/dtype.h"

namespace mla::panel {
namespace {

// Columns per panel chunk: 2048 values, so a 32-row panel is 128 KiB (bf16) or 72 KiB (int8) and
// stays in L2 while all input rows pass over it; longer rows (MLP down projections, 10944+ wide)
// are done in several chunks that add into Y.
constexpr int64_t kChunkValues = 2048;
using simd::kInt8BlockBytes;

// ---- Weight formats on the int8 path: block b of a stored row as w = d * (u - off), u in [0, 255] ----
// Block layouts from ggml's format description (ggml/src/ggml-common.h, block_q8_0 / block_q4_0;
// also docs/GGUF.md): f16 d, then 32 int8 q (w = d q) or 16 bytes of nibbles (value j in the low
// nibble of byte j, value j + 16 in the high one; w = d (nibble - 8)).
struct ByteBlockFormat {
  DType dtype;
  int32_t off;
  void (*unpack)(const uint8_t* row, int64_t b, uint8_t* u, float& d);              // the scalar twin
  void (*pack16)(const uint8_t* const* rows, int64_t b0, int64_t nb, uint8_t* panel);  // simd_panel.h
};

float f16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

void unpack_q8_0(const uint8_t* row, int64_t b, uint8_t* u, float& d) {
  const uint8_t* blk = row + b * sizeof(BlockQ8_0);
  d = f16_at(blk);
  for (int i = 0; i < kBlock; ++i) u[i] = blk[2 + i] ^ 0x80;  // u = q + 128: the sign bit flipped
}

void unpack_q4_0(const uint8_t* row, int64_t b, uint8_t* u, float& d) {
  const uint8_t* blk = row + b * sizeof(BlockQ4_0);
  d = f16_at(blk);
  for (int i = 0; i < kBlock / 2; ++i) {
    u[i] = blk[2 + i] & 15;
    u[i + kBlock / 2] = blk[2 + i] >> 4;
  }
}

constexpr ByteBlockFormat kByteFormats[] = {{DType::Q8_0, 128, unpack_q8_0, simd::pack_q8_0_16},
                                            {DType::Q4_0, 8, unpack_q4_0, simd::pack_q4_0_16}};

const ByteBlockFormat* byte_format(DType t) {
  for (const ByteBlockFormat& f : kByteFormats)
    if (f.dtype == t) return &f;
  return nullptr;
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

// Blocks [b0, b0 + nb) of rows [r0, r0 + 32), each as 8 steps of 4 bytes per lane, then d.
void pack_int8(const ByteBlockFormat& f, const Matrix& W, int64_t r0, int64_t b0, int64_t nb, uint8_t* panel, bool simd) {
  const uint8_t* rows[kTileRows];
  for (int64_t r = 0; r < kTileRows; ++r) rows[r] = r0 + r < W.rows ? row_ptr(W, r0 + r) : nullptr;
  if (simd) {
    f.pack16(rows, b0, nb, panel);
    f.pack16(rows + 16, b0, nb, panel + 64);
    return;
  }
  for (int64_t r = 0; r < kTileRows; ++r)
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t u[kBlock] = {};
      float d = 0;
      if (rows[r] != nullptr) f.unpack(rows[r], b0 + b, u, d);
      uint8_t* pb = panel + b * kInt8BlockBytes;
      for (int s = 0; s < 8; ++s) std::memcpy(pb + s * 128 + r * 4, u + 4 * s, 4);
      reinterpret_cast<float*>(pb + 8 * 128)[r] = d;
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

void panel_int8_scalar(const uint8_t* panel, int64_t blocks, const int8_t* q, int64_t ldq, const float* d,
                       const int32_t* s, int64_t ldd, int64_t n, float* y, int64_t ldy, int64_t live_rows,
                       bool accumulate) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = 0; r < live_rows; ++r) {
      double acc = 0;
      for (int64_t b = 0; b < blocks; ++b) {
        const uint8_t* pb = panel + b * kInt8BlockBytes;
        int32_t dot = s[i * ldd + b];
        for (int v = 0; v < kBlock; ++v) dot += pb[(v / 4) * 128 + r * 4 + v % 4] * q[i * ldq + b * kBlock + v];
        acc += static_cast<double>(reinterpret_cast<const float*>(pb + 8 * 128)[r]) * d[i * ldd + b] * dot;
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

void matmul_int8(ThreadPool* pool, const ByteBlockFormat& f, const Matrix& W, const float* X, int64_t n, float* Y,
                 bool simd) {
  const int64_t K = W.cols, blocks = K / kBlock;
  int8_t* q = sized(tl_xq, static_cast<size_t>(n * K));
  float* d = sized(tl_xd, static_cast<size_t>(n * blocks));
  int32_t* xs = sized(tl_xs, static_cast<size_t>(n * blocks));
  split(pool, n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
      (simd ? simd::quantize_x_blocks : quantize_x_blocks_scalar)(X + i * K, K, f.off, q + i * K, d + i * blocks, xs + i * blocks);
  });
  const int64_t chunk = kChunkValues / kBlock;
  split(pool, (W.rows + kTileRows - 1) / kTileRows, [&](int64_t t0, int64_t t1) {
    uint8_t* panel = sized(tl_panel, static_cast<size_t>(chunk * kInt8BlockBytes));
    for (int64_t t = t0; t < t1; ++t)
      for (int64_t b0 = 0; b0 < blocks; b0 += chunk) {
        const int64_t nb = std::min(chunk, blocks - b0), r0 = t * kTileRows, live = std::min(kTileRows, W.rows - r0);
        pack_int8(f, W, r0, b0, nb, panel, simd);
        (simd ? simd::panel_int8 : panel_int8_scalar)(panel, nb, q + b0 * kBlock, K, d + b0, xs + b0, blocks, n,
                                                       Y + r0, W.rows, live, b0 > 0);
      }
  });
}

}  // namespace

ActivationRounding rounding_for(DType t) {
  if (t == DType::BF16) return ActivationRounding::Bf16;
  if (byte_format(t) != nullptr) return ActivationRounding::Int8Blocks;
  return ActivationRounding::None;
}

void round_activations(DType t, const float* X, int64_t n, int64_t cols, float* out) {
  if (rounding_for(t) == ActivationRounding::Bf16) {
    for (int64_t i = 0; i < n * cols; ++i) out[i] = bf16_to_f32(f32_to_bf16(X[i]));
    return;
  }
  // Formats without a panel entry (the VNNI decode of the K-quants etc.) round x alike; off only
  // sets the block sums s, which are not used here.
  const ByteBlockFormat* f = byte_format(t);
  const int32_t off = f != nullptr ? f->off : 0;
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
      return matmul_int8(pool, *byte_format(W.dtype), W, X, n, Y, simd);
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
