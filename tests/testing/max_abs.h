// The two sizes the model-level tests compare logits by: the largest |value| (the scale of a
// relative tolerance) and the largest |a - b|.
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

namespace mla::testing {

inline float max_abs(const std::vector<float>& v) {
  float m = 0;
  for (float x : v) m = std::max(m, std::fabs(x));
  return m;
}

inline float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

}  // namespace mla::testing
