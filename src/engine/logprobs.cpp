#include "engine/logprobs.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace mla {

TokenInfo token_logprobs(std::span<const float> logits, int32_t id, int32_t top) {
  // log p_i = l_i - (max + log sum exp(l - max)), summed in double.
  float max = -std::numeric_limits<float>::infinity();
  for (float l : logits) max = std::max(max, l);
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - max);
  const double log_z = max + std::log(sum);
  TokenInfo info;
  info.id = id;
  info.logprob = static_cast<float>(logits[static_cast<size_t>(id)] - log_z);
  if (top > 0) {
    const size_t k = std::min(static_cast<size_t>(top), logits.size());
    std::vector<int32_t> ids(logits.size());
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
    std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k), ids.end(), [&](int32_t a, int32_t b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    for (size_t i = 0; i < k; ++i) info.top.push_back({ids[i], static_cast<float>(logits[ids[i]] - log_z)});
  }
  return info;
}

}  // namespace mla
