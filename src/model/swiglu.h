// The SwiGLU feed-forward block every architecture here uses (Shazeer 2020, "GLU Variants Improve
// Transformer"): down(silu(gate x) * up x). DeepSeek's dense layers and experts, Llama's MLP.
#pragma once
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/matrix.h"

namespace mla {

struct MlpWeights {  // SwiGLU: down(silu(gate x) * up x)
  Matrix gate_proj;  // [inter x hidden]
  Matrix up_proj;    // [inter x hidden]
  Matrix down_proj;  // [hidden x inter]
};

// Scratch for the [T x inter] intermediates, grown on demand and reused across calls.
struct SwigluScratch {
  std::vector<float> gate, up;
};

// out[T x hidden] = down(silu(gate x) * up x) for x[T x hidden].
void swiglu(ThreadPool& pool, const MlpWeights& w, const float* x, int64_t T, SwigluScratch& scratch, float* out);

}  // namespace mla
