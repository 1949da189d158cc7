// Plain scalar oracles for the kernels: one element at a time, double accumulation. Slow on
// purpose; tests compare the fast kernels against them on fresh random inputs.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/matrix.h"

namespace mla::ref {

float weight_at(const Matrix& W, int64_t r, int64_t c);
// Row r of W as f32 values (block formats: their scalar decoder, quants/dequantize.h).
std::vector<float> row_values(const Matrix& W, int64_t r);
// Y[n x W.rows] = X[n x W.cols] · W^T
void matmul(const Matrix& W, const float* X, int64_t n, float* Y);

}  // namespace mla::ref

#include "kernels/attention.h"

namespace mla::ref {

// Value i of a stored cache row (kernels/cache_rows.h formats), one element at a time.
float cache_value(kv::CacheDtype d, const uint8_t* row, int64_t i);

// Causal attention over the layout's rows (block table and dtype included) with a full softmax in double precision: out[T x H x d_v].
void attend(const AttnShape& s, const float* q, int64_t T, int64_t p0, const KvLayout& kv, float* out);

}  // namespace mla::ref
