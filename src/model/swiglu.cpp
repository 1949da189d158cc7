#include "model/swiglu.h"

#include "kernels/matmul.h"
#include "kernels/ops.h"

namespace mla {

void swiglu(ThreadPool& pool, const MlpWeights& w, const float* x, int64_t T, SwigluScratch& scratch, float* out) {
  const size_t n = static_cast<size_t>(T) * w.gate_proj.rows;
  if (scratch.gate.size() < n) scratch.gate.resize(n);
  if (scratch.up.size() < n) scratch.up.resize(n);
  matmul(pool, w.gate_proj, x, T, scratch.gate.data());
  matmul(pool, w.up_proj, x, T, scratch.up.data());
  silu_mul(scratch.gate.data(), scratch.up.data(), static_cast<int64_t>(n));
  matmul(pool, w.down_proj, scratch.gate.data(), T, out);
}

}  // namespace mla
