// The routed experts of one DeepSeekMoE layer that this process holds: all of them, or under an
// expert split (docs/DISTRIBUTED.md) the consecutive share [first, first + count) of one rank.
// The same code runs a layer's routed experts in the model and on the ranks that hold only experts.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "model/swiglu.h"
#include "model/weight_binder.h"

namespace mla {

struct RoutedExperts {
  int64_t first = 0;             // id of mlps[0]
  std::vector<MlpWeights> mlps;  // experts first .. first + mlps.size() - 1, each moe_intermediate_size wide

  bool holds(int32_t expert) const { return expert >= first && expert < first + static_cast<int64_t>(mlps.size()); }
};

// Binds `<layer_prefix>.mlp.experts.{begin..end-1}` ([hidden x inter] SwiGLU each). Experts outside
// the range are never bound, so their pages are never read.
RoutedExperts bind_routed_experts(WeightBinder& b, const std::string& layer_prefix, int64_t begin, int64_t end,
                                  int64_t hidden, int64_t inter);

// Scratch for run_routed_experts, grown on demand and reused.
struct RoutedScratch {
  std::vector<float> in, out;  // [n x hidden]: the rows routed to one expert, and its outputs
  std::vector<int64_t> slots;  // (row, k) pairs routed to the current expert, as row * K + k
  SwigluScratch mlp;
};

// out[T x D] += sum over the (t, k) whose expert ids[t * K + k] this share holds of
// weights[t * K + k] * expert(x[t]), for x [T x D] and ids / weights [T x K]. Rows are grouped by
// expert, in expert order, so each expert's weights are read once per call.
void run_routed_experts(ThreadPool& pool, const RoutedExperts& experts, const float* x, int64_t T, int64_t D,
                        int64_t K, const int32_t* ids, const float* weights, RoutedScratch& scratch, float* out);

}  // namespace mla
