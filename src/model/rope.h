// Rotary position embedding for the decoupled RoPE part of MLA (DeepSeek-V2 paper, sec. 2.1.3),
// with YaRN context extension (Peng et al. 2023) when `rope_scaling` is set, and the softmax scale
// YaRN implies.
#pragma once
#include <cstdint>
#include <vector>

#include "model/config.h"

namespace mla {

// 0.1 * mscale * ln(scale) + 1, or 1 when scale <= 1 (YaRN's attention temperature).
double yarn_get_mscale(double scale, double mscale);

class Rope {
 public:
  explicit Rope(const ModelConfig& cfg);
  int64_t dim() const { return dim_; }
  // cos/sin of position `pos` for each interleaved pair: cos[dim/2], sin[dim/2].
  void angles(int64_t pos, float* cos, float* sin) const;
  // 1/sqrt(qk_head_dim), times mscale(factor, mscale_all_dim)^2 under YaRN.
  static double softmax_scale(const ModelConfig& cfg);

 private:
  int64_t dim_;
  std::vector<double> inv_freq_;  // [dim/2]
  double mscale_ = 1.0;           // multiplies cos and sin
};

}  // namespace mla
