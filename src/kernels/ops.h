// Element-wise and row-wise operations on f32 activations.
#pragma once
#include <cstdint>

namespace mla {

// out[n] = x / sqrt(mean(x^2) + eps) * w   (RMSNorm; out may alias x)
void rmsnorm(const float* x, const float* w, int64_t n, float eps, float* out);
// gate[n] = silu(gate) * up   (the SwiGLU MLP's inner product)
void silu_mul(float* gate, const float* up, int64_t n);
// In place, numerically stable.
void softmax(float* x, int64_t n);
// Rotates interleaved pairs (x[2i], x[2i+1]) by the angle whose cos/sin are given: x[d], cs[d/2].
void rope_interleaved(float* x, const float* cos, const float* sin, int64_t d);
// Rotates half-split pairs (x[i], x[i + d/2]) instead: Hugging Face Llama's rotate_half layout,
// x * cos + rotate_half(x) * sin with cos/sin repeated over both halves. x[d], cs[d/2].
void rope_half_split(float* x, const float* cos, const float* sin, int64_t d);

}  // namespace mla
