#include "model/routed_experts.h"

#include <algorithm>

#include "kernels/matmul.h"

namespace mla {

RoutedExperts bind_routed_experts(WeightBinder& b, const std::string& layer_prefix, int64_t begin, int64_t end,
                                  int64_t hidden, int64_t inter) {
  RoutedExperts r;
  r.first = begin;
  for (int64_t e = begin; e < end; ++e)
    r.mlps.push_back(b.mlp(layer_prefix + ".mlp.experts." + std::to_string(e), hidden, inter));
  return r;
}

void run_routed_experts(ThreadPool& pool, const RoutedExperts& experts, const float* x, int64_t T, int64_t D,
                        int64_t K, const int32_t* ids, const float* weights, RoutedScratch& s, float* out) {
  for (size_t i = 0; i < experts.mlps.size(); ++i) {
    const int32_t e = static_cast<int32_t>(experts.first + static_cast<int64_t>(i));
    s.slots.clear();
    for (int64_t j = 0; j < T * K; ++j)
      if (ids[j] == e) s.slots.push_back(j);
    if (s.slots.empty()) continue;
    const int64_t n = static_cast<int64_t>(s.slots.size());
    if (s.in.size() < static_cast<size_t>(n * D)) s.in.resize(n * D), s.out.resize(n * D);
    for (int64_t r = 0; r < n; ++r) std::copy_n(x + (s.slots[r] / K) * D, D, s.in.data() + r * D);
    swiglu(pool, experts.mlps[i], s.in.data(), n, s.mlp, s.out.data());
    for (int64_t r = 0; r < n; ++r) axpy_f32(weights[s.slots[r]], s.out.data() + r * D, out + (s.slots[r] / K) * D, D);
  }
}

}  // namespace mla
