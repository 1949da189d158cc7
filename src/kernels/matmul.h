// Products of activations (f32) with stored weight matrices (any dtype). Each has a plain reference
// twin in kernels/reference.h that tests compare against.
#pragma once
#include <cstdint>

#include "core/thread_pool.h"
#include "kernels/matrix.h"
#include "kernels/panel_gemm.h"

namespace mla {

// Which implementation the kernels run (matmul here and the attention core): the explicit AVX-512
// kernels (kernels/simd.h) where the CPU has AVX-512 F/BW/VL + FMA + F16C, else the portable ones
// (compiler-vectorised for AVX-512F, AVX2 + FMA or the x86-64 baseline: core/cpu_clones.h). With AVX512_VNNI too, the decode (n = 1) products with Q8_0,
// Q4_0, the K-quants (Q2_K..Q6_K), IQ4_XS, IQ4_NL, Q4_1, Q5_0 and Q5_1 weights quantize x to int8
// blocks and use integer dot products (simd.h *_vnni, simd_quants.h); the
// prefill products (n >= 16) run on panels (panel_gemm.h): BF16 weights on AVX512_BF16 with x
// rounded to bf16, block formats on VNNI with x quantized to int8 blocks. Smaller products round x
// the same way first, so results do not depend on how many rows share a call.
// The lattice i-quants with 256- and 512-entry grids decode on AVX512_VBMI table lookups where the CPU
// has it. MLA_KERNELS=portable / avx512-novnni / avx512-novbmi in the environment, or
// set_kernel_path(Portable / NoVnni / NoVbmi), force the portable path / the AVX-512 f32 kernels (no
// integer or bf16 dot products) / the VNNI kernels without VBMI (as on CPUs without it), so tests
// and benchmarks run each path on a machine that has them all.
enum class KernelPath { Auto, NoVbmi, NoVnni, Portable };
void set_kernel_path(KernelPath path);
bool kernels_use_avx512();
bool kernels_use_vnni();
bool kernels_use_bf16_dot();  // AVX512_BF16 products (panel_gemm.h, flash_prefill.h) on the Auto path
bool kernels_use_vbmi();      // the i-quants' VBMI decode kernels (simd_quants.h)

// One row of W as f32: out[cols].
void decode_row(const Matrix& W, int64_t r, float* out);

// Dot product of f32 vectors, vectorised by the compiler for the CPU it runs on (AVX-512, AVX2 or
// the x86-64 baseline, picked at load time).
float dot_f32(const float* a, const float* b, int64_t n);
// y[n] += alpha * x[n]
void axpy_f32(float alpha, const float* x, float* y, int64_t n);

// On the calling thread only (for callers that split work themselves, e.g. per attention head):
//   matvec_rows:   y[r - r0] = W[r] · x                for r in [r0, r1)   (x: [W.cols])
//   matvec_t_rows: y += sum_r x[r - r0] * W[r]         for r in [r0, r1)   (y: [W.cols])
// Both with the AVX-512 kernels where they run (bf16 rows widened in registers), else decode_row.
void matvec_rows(const Matrix& W, int64_t r0, int64_t r1, const float* x, float* y);
void matvec_t_rows(const Matrix& W, int64_t r0, int64_t r1, const float* x, float* y);

// Y[n x W.rows] = X[n x W.cols] · W^T, split over rows of W across the pool's threads. Each weight
// row is read once per call (decode: n = 1, the weights stream from memory once).
// X may be rounded first (matmul_rounding): to int8 per 32 values, |Y - exact| <= sum_c |W[r][c]| *
// d_x(c) / 2 (+ f32 rounding), d_x = max|x| of c's block / 127; to bf16, <= 2^-9 sum_c |W[r][c] x_c|.
void matmul(ThreadPool& pool, const Matrix& W, const float* X, int64_t n, float* Y);

// Weight bytes matmul, matvec_rows and matvec_t_rows have been asked to read since the process
// started: each call adds the bytes of the rows it reads (a relaxed atomic add per call). For
// benchmarks: a decode step's bytes, hence its GB/s against the read bandwidth (bench --model).
uint64_t weight_bytes_read();

// How matmul(pool, W, X, n, Y) rounds X, for any n, on this machine and kernel path (panel_gemm.h
// states each rounding's bound; tests derive their tolerances from it).
ActivationRounding matmul_rounding(const Matrix& W);

}  // namespace mla
