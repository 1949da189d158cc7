#include "model/rope.h"

#include <algorithm>
#include <cmath>

namespace mla {

double yarn_get_mscale(double scale, double mscale) {
  return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

// The pair index at which a wavelength completes `n_rotations` turns over the original context.
static double yarn_correction_dim(double n_rotations, int64_t dim, double base, double max_pos) {
  return static_cast<double>(dim) * std::log(max_pos / (n_rotations * 2.0 * M_PI)) / (2.0 * std::log(base));
}

Rope::Rope(const ModelConfig& cfg) : dim_(cfg.qk_rope_head_dim), inv_freq_(cfg.qk_rope_head_dim / 2) {
  const double base = cfg.rope_theta;
  const int64_t half = dim_ / 2;
  for (int64_t i = 0; i < half; ++i)
    inv_freq_[i] = 1.0 / std::pow(base, static_cast<double>(2 * i) / static_cast<double>(dim_));
  if (!cfg.rope_scaling) return;

  // YaRN: high-frequency pairs (many rotations within the original context) keep their frequency
  // ("extrapolation"), low-frequency pairs are divided by `factor` ("interpolation"), with a
  // linear ramp between the correction dims of beta_fast and beta_slow.
  const RopeScaling& y = *cfg.rope_scaling;
  const double max_pos = static_cast<double>(y.original_max_position_embeddings);
  double low = std::max(std::floor(yarn_correction_dim(y.beta_fast, dim_, base, max_pos)), 0.0);
  double high = std::min(std::ceil(yarn_correction_dim(y.beta_slow, dim_, base, max_pos)), static_cast<double>(dim_ - 1));
  if (low == high) high += 0.001;
  for (int64_t i = 0; i < half; ++i) {
    const double ramp = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
    const double extrapolation = 1.0 - ramp;
    inv_freq_[i] = inv_freq_[i] / y.factor * ramp + inv_freq_[i] * extrapolation;
  }
  mscale_ = yarn_get_mscale(y.factor, y.mscale) / yarn_get_mscale(y.factor, y.mscale_all_dim);
}

void Rope::angles(int64_t pos, float* cos, float* sin) const {
  for (size_t i = 0; i < inv_freq_.size(); ++i) {
    const double a = static_cast<double>(pos) * inv_freq_[i];
    cos[i] = static_cast<float>(std::cos(a) * mscale_);
    sin[i] = static_cast<float>(std::sin(a) * mscale_);
  }
}

double Rope::softmax_scale(const ModelConfig& cfg) {
  double scale = 1.0 / std::sqrt(static_cast<double>(cfg.qk_head_dim()));
  if (cfg.rope_scaling && cfg.rope_scaling->mscale_all_dim != 0.0) {
    const double m = yarn_get_mscale(cfg.rope_scaling->factor, cfg.rope_scaling->mscale_all_dim);
    scale *= m * m;
  }
  return scale;
}

}  // namespace mla
