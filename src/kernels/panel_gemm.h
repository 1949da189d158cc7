// Prefill products (many input rows) on the CPU's densest dot-product instruction for each weight
// format, internal to src/kernels (matmul.h routes to it):
//   BF16 weights x bf16-rounded activations on AVX512_BF16 `vdpbf16ps` (32 multiply-adds per
//     instruction, twice the f32 FMA's 16);
//   block formats (every format of quants/int8_unpack.h: w = d * (u - off) + m per sub-block of 32
//     or 16 values, u an unsigned byte) x int8-quantized activations on AVX512_VNNI `vpdpbusd` (64
//     per instruction). vpdpbusd multiplies unsigned by signed bytes, so the weights enter as u and
//     each sub-block's sum starts at -off * sum(q_x), making it exactly sum (u - off) q_x in int32;
//     a min m (the K-quants' -dmin * min) adds m * d_x * sum(q_x) with one FMA.
//
// Blocking: the rows of W are cut into tiles of 32 (two zmm of 16 output rows), each tile's columns
// into chunks of kc values. A thread unpacks one chunk of one tile into a *panel* (the layout below),
// which stays in L2 while every input row passes over it, so each weight byte is read from memory
// once per call. Outputs of a tile are contiguous in Y (16 rows per zmm store), so no horizontal sums.
//
// Panel layout, "broadcast form": dword s of lane r holds the 2 bf16 (or 4 byte) values of weight row
// r that one vdpbf16ps (vpdpbusd) multiplies by dword s of the input row, broadcast to all lanes:
//   bf16: [steps][2 groups][16 rows] uint32 (2 bf16 each)
//   int8: per sub-block (32 values, or 16 for Q2_K / Q3_K / Q6_K): [sub / 4 steps][2 groups][16 rows]
//         uint32 (4 bytes u each), then d[2][16] f32, then for formats with a min m[2][16] f32.
#pragma once
#include <cstdint>

#include "core/thread_pool.h"
#include "kernels/matrix.h"

namespace mla {

// How a product rounds its activations before the dot products.
enum class ActivationRounding {
  None,        // f32 as given
  Bf16,        // to bf16, round to nearest even: |x' - x| <= 2^-9 |x|
  Int8Blocks,  // per 32 values d = max|x| / 127, x' = d * round(x / d): |x' - x| <= d / 2
};

namespace panel {

constexpr int64_t kTileRows = 32;
constexpr int64_t kBlock = 32;  // values per activation scale (and per weight block unpacked at a time)

// The activation rounding the panel kernels use for weights of type t (None: no panel kernel).
ActivationRounding rounding_for(DType t);

// out[n x cols] = X rounded as rounding_for(t) (!= None), as f32: the values the panel kernels
// multiply, for products too small for panels, so that every product with W rounds alike. Any other
// t (block formats with no panel kernel yet, whose VNNI decode rounds x the same way): Int8Blocks.
void round_activations(DType t, const float* X, int64_t n, int64_t cols, float* out);

// Which micro-kernels run: the AVX-512 ones (only where simd_panel.h says the CPU has them) or their
// plain scalar twins, which tests compare them against on the same panels.
enum class Impl { Simd, Scalar };

// Y[n x W.rows] = X'[n x W.cols] · W^T with X' = X rounded as rounding_for(W.dtype) (!= None), split
// over tiles of W's rows across the pool's threads. Int8Blocks needs W.cols % 32 == 0.
void matmul(ThreadPool& pool, const Matrix& W, const float* X, int64_t n, float* Y, Impl impl);
// The same on the calling thread only (for callers that split work themselves, e.g. per attention head).
void matmul_serial(const Matrix& W, const float* X, int64_t n, float* Y, Impl impl);

}  // namespace panel
}  // namespace mla
