#include "kernels/matmul.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/cpu_clones.h"
#include "core/error.h"
#include "kernels/simd.h"
#include "kernels/simd_panel.h"
#include "kernels/simd_quants.h"
#include "quants/dequantize.h"

namespace mla {
namespace {

// Independent accumulator lanes let the compiler vectorise the reduction without -ffast-math.
constexpr int kLanes = 16;

MLA_CLONES float dot_f32_impl(const float* a, const float* b, int64_t n) {
  float acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) acc[j] += a[i + j] * b[i + j];
  float s = 0;
  for (; i < n; ++i) s += a[i] * b[i];
  for (int j = 0; j < kLanes; ++j) s += acc[j];
  return s;
}

MLA_CLONES float dot_bf16_impl(const uint16_t* w, const float* x, int64_t n) {
  float acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) {
      uint32_t bits = static_cast<uint32_t>(w[i + j]) << 16;
      float f;
      std::memcpy(&f, &bits, 4);
      acc[j] += f * x[i + j];
    }
  float s = 0;
  for (; i < n; ++i) s += bf16_to_f32(w[i]) * x[i];
  for (int j = 0; j < kLanes; ++j) s += acc[j];
  return s;
}

MLA_CLONES void axpy_impl(float alpha, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

MLA_CLONES void bf16_row_to_f32(const uint16_t* w, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits = static_cast<uint32_t>(w[i]) << 16;
    std::memcpy(&out[i], &bits, 4);
  }
}

// f16 -> f32 through a 64K-entry table (as ggml does): exact, and portable without F16C.
const float* f16_table() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (uint32_t i = 0; i < 65536; ++i) t[i] = f16_to_f32(static_cast<uint16_t>(i));
    return t;
  }();
  return table.data();
}

// Rows decoded per tile in the portable matmul: each tile of W is decoded once and reused for every input row.
constexpr int64_t kTileRows = 8;
// Rows decoded per tile in the AVX-512 matmul (n > 1): 16 rows of f32 (64 KiB at 1024 columns) stay
// in L2 while blocks of 6 inputs pass over them 4 rows at a time.
constexpr int64_t kSimdTileRows = 16;

// Input rows from which a product runs on panels (panel_gemm.h) where it can: below it the per-call
// packing of each weight tile costs more than the denser instruction saves (mla bench gemm -n N).
constexpr int64_t kPanelMinRows = 16;

std::atomic<uint64_t> g_weight_bytes{0};
void count_rows(const Matrix& W, int64_t rows) {
  g_weight_bytes.fetch_add(static_cast<uint64_t>(rows) * W.row_bytes(), std::memory_order_relaxed);
}

thread_local std::vector<float> tl_tile;
thread_local std::vector<float> tl_xr;  // X rounded as the panels would (small products)

thread_local std::vector<uint8_t> tl_xq;  // x prepared for a dot-product decode gemv (DotGemv::prepare)

std::atomic<KernelPath> g_path{KernelPath::Auto};

// MLA_KERNELS from the environment, read once: the most restrictive of it and set_kernel_path wins.
KernelPath env_path() {
  static const KernelPath p = [] {
    const char* e = std::getenv("MLA_KERNELS");
    if (e != nullptr && std::strcmp(e, "portable") == 0) return KernelPath::Portable;
    if (e != nullptr && std::strcmp(e, "avx512-novnni") == 0) return KernelPath::NoVnni;
    if (e != nullptr && std::strcmp(e, "avx512-novbmi") == 0) return KernelPath::NoVbmi;
    return KernelPath::Auto;
  }();
  return p;
}

KernelPath current_path() { return std::max(env_path(), g_path.load(std::memory_order_relaxed)); }

void ensure_tile(size_t n) {
  if (tl_tile.size() < n) tl_tile.resize(n);
}

}  // namespace

void set_kernel_path(KernelPath path) { g_path = path; }
bool kernels_use_avx512() { return current_path() != KernelPath::Portable && simd::avx512_cpu(); }
bool kernels_use_vnni() { return current_path() <= KernelPath::NoVbmi && simd::avx512_vnni_cpu(); }
bool kernels_use_bf16_dot() { return current_path() <= KernelPath::NoVbmi && simd::avx512_bf16_cpu(); }
bool kernels_use_vbmi() { return current_path() == KernelPath::Auto && simd::avx512_vbmi_cpu(); }

namespace {

// Decode on dot-product instructions: block-format weights on VNNI integer dot products,
// BF16 on AVX512_BF16 (kBf16Gemv). x is prepared once per call (x_bytes, prepare; shared by the
// threads), then the format's gemv runs over each thread's rows. Q8_0 / Q4_0: simd.h (x in their
// weight order); the others: simd_quants.h (x in natural order, the format's sub-block scales and
// offsets applied per lane). Every entry rounds x as panel::round_activations does, so decode and
// prefill of a format see the same x (ActivationRounding::Int8Blocks / Bf16).
// gemv_n (where not null) takes n inputs, their prepared x x_bytes(cols) apart, writing Y[i * ldy + r]
// with each input's result the same as gemv's alone.
struct DotGemv {
  DType dtype;
  int64_t (*x_bytes)(int64_t cols);
  void (*prepare)(const float* x, int64_t cols, uint8_t* xq);
  void (*gemv)(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* xq, float* y);
  void (*gemv_n)(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* xq, int64_t n, float* y,
                 int64_t ldy) = nullptr;
};

void prepare_for_q8_0(const float* x, int64_t cols, uint8_t* xq) { simd::quantize_x(simd::XQuant::ForQ8_0, x, cols, xq); }
void prepare_for_q4_0(const float* x, int64_t cols, uint8_t* xq) { simd::quantize_x(simd::XQuant::ForQ4_0, x, cols, xq); }
void prepare_for_iq4_nl(const float* x, int64_t cols, uint8_t* xq) { simd::quantize_x(simd::XQuant::ForIQ4_NL, x, cols, xq); }

constexpr DotGemv kDotGemv[] = {
    {DType::Q8_0, simd::xq_bytes, prepare_for_q8_0, simd::gemv_q8_0_vnni},
    {DType::Q4_0, simd::xq_bytes, prepare_for_q4_0, simd::gemv_q4_0_vnni},
    {DType::Q4_K, simd::x8_bytes, simd::prepare_x8, simd::gemv_q4_k},
    {DType::Q6_K, simd::x8_bytes, simd::prepare_x8, simd::gemv_q6_k},
    {DType::Q5_K, simd::x8_bytes, simd::prepare_x8, simd::gemv_q5_k},
    {DType::Q3_K, simd::x8_bytes, simd::prepare_x8, simd::gemv_q3_k},
    {DType::Q2_K, simd::x8_bytes, simd::prepare_x8, simd::gemv_q2_k},
    {DType::IQ4_XS, simd::x8_bytes, simd::prepare_x8, simd::gemv_iq4_xs},
    {DType::Q4_1, simd::x8_bytes, simd::prepare_x8, simd::gemv_q4_1},
    {DType::Q5_0, simd::x8_bytes, simd::prepare_x8, simd::gemv_q5_0},
    {DType::Q5_1, simd::x8_bytes, simd::prepare_x8, simd::gemv_q5_1},
    {DType::IQ4_NL, simd::xq_bytes, prepare_for_iq4_nl, simd::gemv_iq4_nl_vnni},
    {DType::IQ3_XXS, simd::x8_bytes, simd::prepare_x8, simd::gemv_iq3_xxs},
    {DType::IQ3_S, simd::x8_bytes, simd::prepare_x8, simd::gemv_iq3_s},
    {DType::IQ2_XXS, simd::x8_bytes, simd::prepare_x8, simd::gemv_iq2_xxs},
    {DType::IQ2_XS, simd::x8_bytes, simd::prepare_x8, simd::gemv_iq2_xs},
    {DType::IQ2_S, simd::x8_bytes, simd::prepare_x8, simd::gemv_iq2_s},
    {DType::IQ1_S, simd::x8_bytes, simd::prepare_x8, simd::gemv_iq1_s},
    {DType::IQ1_M, simd::x8_bytes, simd::prepare_x8, simd::gemv_iq1_m},
};

// Where the CPU has AVX512_VBMI as well: the same products with the grid from in-register tables.
constexpr DotGemv kVbmiGemv[] = {
    {DType::IQ3_XXS, simd::x8_bytes, simd::prepare_x8, simd::gemv_iq3_xxs_vbmi},
    {DType::IQ3_S, simd::x8_bytes, simd::prepare_x8, simd::gemv_iq3_s_vbmi},
    {DType::IQ2_XXS, simd::x8_bytes, simd::prepare_x8, simd::gemv_iq2_xxs_vbmi},
    {DType::IQ2_XS, simd::x8_bytes, simd::prepare_x8, simd::gemv_iq2_xs_vbmi},
};

// BF16 on AVX512_BF16: x rounded to bf16 once per call (as the panels round it), `vdpbf16ps`.
int64_t bf16_x_bytes(int64_t cols) { return 2 * cols; }
void prepare_bf16_x(const float* x, int64_t cols, uint8_t* xb) { simd::x_to_bf16(x, cols, reinterpret_cast<uint16_t*>(xb)); }
void gemv_bf16_one(const uint8_t* w, int64_t stride, int64_t rows, int64_t cols, const uint8_t* xb, float* y) {
  simd::gemv_bf16_dot(w, stride, rows, cols, xb, 1, y, 0);
}
constexpr DotGemv kBf16Gemv = {DType::BF16, bf16_x_bytes, prepare_bf16_x, gemv_bf16_one, simd::gemv_bf16_dot};

// W's integer / bf16 dot-product decode kernel where this machine and kernel path run one, else nullptr.
const DotGemv* dot_gemv(const Matrix& W) {
  const DType t = W.dtype;
  if (t == DType::BF16) return W.cols % 2 == 0 && kernels_use_bf16_dot() ? &kBf16Gemv : nullptr;
  if (!kernels_use_vnni()) return nullptr;
  if (kernels_use_vbmi())
    for (const DotGemv& g : kVbmiGemv)
      if (g.dtype == t) return &g;
  for (const DotGemv& g : kDotGemv)
    if (g.dtype == t) return &g;
  return nullptr;
}

// How this machine rounds X for W's format: as the panel kernels do wherever the CPU has their
// instruction (and the path is not forced elsewhere), on every product, panels or not (every block
// format has panels, and its VNNI decode rounds x the same way).
ActivationRounding dot_rounding(const Matrix& W) {
  switch (panel::rounding_for(W.dtype)) {
    case ActivationRounding::Bf16:
      return W.cols % 2 == 0 && kernels_use_bf16_dot() ? ActivationRounding::Bf16 : ActivationRounding::None;
    case ActivationRounding::Int8Blocks:
      return kernels_use_vnni() ? ActivationRounding::Int8Blocks : ActivationRounding::None;
    case ActivationRounding::None:
      break;
  }
  return ActivationRounding::None;
}

}  // namespace

ActivationRounding matmul_rounding(const Matrix& W) { return dot_rounding(W); }

float dot_f32(const float* a, const float* b, int64_t n) {
  return kernels_use_avx512() ? simd::dot_f32(a, b, n) : dot_f32_impl(a, b, n);
}
void axpy_f32(float alpha, const float* x, float* y, int64_t n) {
  if (kernels_use_avx512())
    simd::axpy_f32(alpha, x, y, n);
  else
    axpy_impl(alpha, x, y, n);
}

void decode_row(const Matrix& W, int64_t r, float* out) {
  const uint8_t* row = W.data + static_cast<size_t>(r) * W.row_bytes();
  switch (W.dtype) {
    case DType::F32:
      std::memcpy(out, row, W.row_bytes());
      return;
    case DType::BF16:
      if (kernels_use_avx512())
        simd::bf16_to_f32(reinterpret_cast<const uint16_t*>(row), out, W.cols);
      else
        bf16_row_to_f32(reinterpret_cast<const uint16_t*>(row), out, W.cols);
      return;
    case DType::F16: {
      if (kernels_use_avx512()) {
        simd::f16_to_f32(reinterpret_cast<const uint16_t*>(row), out, W.cols);
        return;
      }
      const float* t = f16_table();
      const uint16_t* h = reinterpret_cast<const uint16_t*>(row);
      for (int64_t c = 0; c < W.cols; ++c) out[c] = t[h[c]];
      return;
    }
    case DType::F8_E4M3: {
      const float* t = fp8_e4m3_table();
      const int64_t scale_cols = (W.cols + kFp8Block - 1) / kFp8Block;
      const float* scales = W.scale_inv + (r / kFp8Block) * scale_cols;
      for (int64_t c0 = 0; c0 < W.cols; c0 += kFp8Block) {
        const float s = scales[c0 / kFp8Block];
        const int64_t c1 = std::min(W.cols, c0 + kFp8Block);
        for (int64_t c = c0; c < c1; ++c) out[c] = t[row[c]] * s;
      }
      return;
    }
    case DType::U8:  // raw bytes: never bound as a weight (Checkpoint::get, WeightBinder::matrix)
      fail("decode_row: U8 is raw bytes, not a weight type");
    case DType::Q8_0:
    case DType::Q4_0:
      if (kernels_use_avx512()) {
        (W.dtype == DType::Q8_0 ? simd::q8_0_to_f32 : simd::q4_0_to_f32)(row, out, W.cols);
        return;
      }
      dequantize_row(W.dtype, row, out, W.cols);
      return;
    default:  // the other block formats: their scalar decoders (quants/dequantize.h)
      dequantize_row(W.dtype, row, out, W.cols);
      return;
  }
}

// Portable block-format dot products: 32 lanes, one per position in a block, so the compiler
// vectorises across the block; each value is widened and scaled as it is used.
MLA_CLONES static float dot_q8_0_impl(const uint8_t* row, const float* x, int64_t blocks) {
  const float* t = f16_table();
  float acc[kQuantBlock] = {};
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t* blk = row + b * sizeof(BlockQ8_0);
    const float d = t[blk[0] | (blk[1] << 8)];
    const int8_t* q = reinterpret_cast<const int8_t*>(blk + 2);
    const float* xb = x + b * kQuantBlock;
    for (int j = 0; j < kQuantBlock; ++j) acc[j] += d * static_cast<float>(q[j]) * xb[j];
  }
  float s = 0;
  for (float a : acc) s += a;
  return s;
}

MLA_CLONES static float dot_q4_0_impl(const uint8_t* row, const float* x, int64_t blocks) {
  constexpr int kHalf = kQuantBlock / 2;
  const float* t = f16_table();
  float acc[kQuantBlock] = {};
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t* blk = row + b * sizeof(BlockQ4_0);
    const float d = t[blk[0] | (blk[1] << 8)];
    const uint8_t* qs = blk + 2;
    const float* xb = x + b * kQuantBlock;
    for (int j = 0; j < kHalf; ++j) {
      acc[j] += d * static_cast<float>((qs[j] & 15) - 8) * xb[j];
      acc[j + kHalf] += d * static_cast<float>((qs[j] >> 4) - 8) * xb[j + kHalf];
    }
  }
  float s = 0;
  for (float a : acc) s += a;
  return s;
}

// Row r of W dotted with x, fused (no row buffer) for the common dtypes.
static float dot_row(const Matrix& W, int64_t r, const float* x, float* scratch) {
  const uint8_t* row = W.data + static_cast<size_t>(r) * W.row_bytes();
  if (W.dtype == DType::BF16) return dot_bf16_impl(reinterpret_cast<const uint16_t*>(row), x, W.cols);
  if (W.dtype == DType::F32) return dot_f32_impl(reinterpret_cast<const float*>(row), x, W.cols);
  if (W.dtype == DType::Q8_0) return dot_q8_0_impl(row, x, W.cols / kQuantBlock);
  if (W.dtype == DType::Q4_0) return dot_q4_0_impl(row, x, W.cols / kQuantBlock);
  decode_row(W, r, scratch);
  return dot_f32_impl(scratch, x, W.cols);
}

namespace {

// y[r - r0] = W[r] · x for rows [r0, r1) with the AVX-512 kernels: one dispatch per call, 4 rows per step.
// dot: W's dot-product decode kernel (DotGemv) and xq its prepared x, or null (the f32 kernels on x).
void gemv_rows_avx512(const Matrix& W, int64_t r0, int64_t r1, const float* x, const DotGemv* dot,
                      const uint8_t* xq, float* y, float* scratch) {
  const uint8_t* row0 = W.data + static_cast<size_t>(r0) * W.row_bytes();
  if (dot != nullptr) {
    dot->gemv(row0, W.row_bytes(), r1 - r0, W.cols, xq, y);
    return;
  }
  switch (W.dtype) {
    case DType::BF16:
      simd::gemv_bf16(reinterpret_cast<const uint16_t*>(row0), W.cols, r1 - r0, W.cols, x, y);
      return;
    case DType::F16:
      simd::gemv_f16(reinterpret_cast<const uint16_t*>(row0), W.cols, r1 - r0, W.cols, x, y);
      return;
    case DType::F32:
      simd::gemv_f32(reinterpret_cast<const float*>(row0), W.cols, r1 - r0, W.cols, x, y);
      return;
    case DType::Q8_0:
      simd::gemv_q8_0(row0, W.row_bytes(), r1 - r0, W.cols, x, y);
      return;
    case DType::Q4_0:
      simd::gemv_q4_0(row0, W.row_bytes(), r1 - r0, W.cols, x, y);
      return;
    default:  // fp8 and the other block formats: decode the row, then one dot product
      for (int64_t r = r0; r < r1; ++r) {
        decode_row(W, r, scratch);
        y[r - r0] = simd::dot_f32(scratch, x, W.cols);
      }
      return;
  }
}

// Y[n x W.rows] for weight rows [r0, r1) with the AVX-512 kernels: tiles of kSimdTileRows rows are
// decoded to f32 once and multiplied against all n inputs by the register-blocked micro-kernel.
void gemm_rows_avx512(const Matrix& W, int64_t r0, int64_t r1, const float* X, int64_t n, float* Y) {
  const int64_t ldt = (W.cols + 15) / 16 * 16;
  ensure_tile(static_cast<size_t>(kSimdTileRows * ldt));
  float* tile = tl_tile.data();
  for (int64_t t0 = r0; t0 < r1; t0 += kSimdTileRows) {
    const int64_t nr = std::min(kSimdTileRows, r1 - t0);
    for (int64_t r = 0; r < nr; ++r) decode_row(W, t0 + r, tile + r * ldt);
    simd::gemm_tile(tile, ldt, nr, W.cols, X, W.cols, n, Y + t0, W.rows);
  }
}

}  // namespace

uint64_t weight_bytes_read() { return g_weight_bytes.load(std::memory_order_relaxed); }

void matvec_rows(const Matrix& W, int64_t r0, int64_t r1, const float* x, float* y) {
  count_rows(W, r1 - r0);
  ensure_tile(W.cols);
  if (kernels_use_avx512()) return gemv_rows_avx512(W, r0, r1, x, nullptr, nullptr, y, tl_tile.data());
  for (int64_t r = r0; r < r1; ++r) y[r - r0] = dot_row(W, r, x, tl_tile.data());
}

void matvec_t_rows(const Matrix& W, int64_t r0, int64_t r1, const float* x, float* y) {
  count_rows(W, r1 - r0);
  if (W.dtype == DType::BF16 && kernels_use_avx512()) {
    for (int64_t r = r0; r < r1; ++r)
      simd::axpy_bf16(x[r - r0], reinterpret_cast<const uint16_t*>(W.data + static_cast<size_t>(r) * W.row_bytes()), y,
                      W.cols);
    return;
  }
  ensure_tile(W.cols);
  for (int64_t r = r0; r < r1; ++r) {
    decode_row(W, r, tl_tile.data());
    axpy_f32(x[r - r0], tl_tile.data(), y, W.cols);
  }
}

void matmul(ThreadPool& pool, const Matrix& W, const float* X, int64_t n, float* Y) {
  count_rows(W, W.rows);
  const ActivationRounding rounding = dot_rounding(W);
  if (rounding != ActivationRounding::None && n >= kPanelMinRows) return panel::matmul(pool, W, X, n, Y, panel::Impl::Simd);
  // Too few rows for panels: the kernels below on X rounded as the panels would round it, so a row's
  // result stays close whatever the number of rows sharing the call. The dot-product decode kernels
  // (n = 1, and BF16's for any n here: the same sums bit for bit) prepare x themselves.
  const DotGemv* dot = dot_gemv(W);
  if (dot != nullptr && n > 1 && dot->gemv_n == nullptr) dot = nullptr;
  if (rounding != ActivationRounding::None && dot == nullptr) {
    if (tl_xr.size() < static_cast<size_t>(n * W.cols)) tl_xr.resize(static_cast<size_t>(n * W.cols));
    panel::round_activations(W.dtype, X, n, W.cols, tl_xr.data());
    X = tl_xr.data();
  }
  if (kernels_use_avx512()) {
    // Each thread takes one contiguous range of rows (in units of the row block) and streams it once.
    const int64_t block = n == 1 || dot != nullptr ? 4 : kSimdTileRows, n_blocks = (W.rows + block - 1) / block;
    // Dot-product decode: x is prepared once here, shared by all threads.
    const uint8_t* xq = nullptr;
    if (dot != nullptr) {
      const int64_t xb = dot->x_bytes(W.cols);
      tl_xq.resize(static_cast<size_t>(n * xb));
      for (int64_t i = 0; i < n; ++i) dot->prepare(X + i * W.cols, W.cols, tl_xq.data() + i * xb);
      xq = tl_xq.data();
    }
    pool.parallel_for(n_blocks, [&](int64_t b0, int64_t b1) {
      const int64_t r0 = b0 * block, r1 = std::min(W.rows, b1 * block);
      if (n > 1 && dot != nullptr) {
        dot->gemv_n(W.data + static_cast<size_t>(r0) * W.row_bytes(), W.row_bytes(), r1 - r0, W.cols, xq, n, Y + r0, W.rows);
      } else if (n == 1) {
        ensure_tile(W.cols);
        gemv_rows_avx512(W, r0, r1, X, dot, xq, Y + r0, tl_tile.data());
      } else {
        gemm_rows_avx512(W, r0, r1, X, n, Y);
      }
    });
    return;
  }
  const int64_t n_tiles = (W.rows + kTileRows - 1) / kTileRows;
  pool.parallel_for(n_tiles, [&](int64_t t0, int64_t t1) {
    ensure_tile(static_cast<size_t>(kTileRows * W.cols));
    float* tile = tl_tile.data();
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t r0 = t * kTileRows, nr = std::min(kTileRows, W.rows - r0);
      if (n == 1) {
        for (int64_t r = 0; r < nr; ++r) Y[r0 + r] = dot_row(W, r0 + r, X, tile);
        continue;
      }
      for (int64_t r = 0; r < nr; ++r) decode_row(W, r0 + r, tile + r * W.cols);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t r = 0; r < nr; ++r) Y[i * W.rows + r0 + r] = dot_f32_impl(tile + r * W.cols, X + i * W.cols, W.cols);
    }
  });
}

}  // namespace mla
