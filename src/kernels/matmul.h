// Products of activations (f32) with stored weight matrices (any dtype). Each has a plain reference
// twin in kernels/reference.h that tests compare against.
#pragma once
#include <cstdint>

#include "core/thread_pool.h"
#include "kernels/matrix.h"

namespace mla {

// Which implementation the kernels run (matmul here and the attention core): the explicit AVX-512
// kernels (kernels/simd.h) where the CPU has AVX-512 F/BW/VL + FMA + F16C, else the portable ones
// (compiler-vectorised, target_clones). MLA_KERNELS=portable in the environment, or
// set_kernel_path(Portable), forces the portable path, so tests check both on an AVX-512 machine.
enum class KernelPath { Auto, Portable };
void set_kernel_path(KernelPath path);
bool kernels_use_avx512();

// One row of W as f32: out[cols].
void decode_row(const Matrix& W, int64_t r, float* out);

// Dot product of f32 vectors, vectorised by the compiler for the CPU it runs on (AVX-512, AVX2 or
// the x86-64 baseline, picked at load time).
float dot_f32(const float* a, const float* b, int64_t n);
// y[n] += alpha * x[n]
void axpy_f32(float alpha, const float* x, float* y, int64_t n);

// Y[n x W.rows] = X[n x W.cols] · W^T, split over rows of W across the pool's threads. Each weight
// row is read once per call (decode: n = 1, the weights stream from memory once).
void matmul(ThreadPool& pool, const Matrix& W, const float* X, int64_t n, float* Y);

}  // namespace mla
