#include "bench/logit_error.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace mla::bench {
namespace {

// log softmax of x[V] in double: x - max - log(sum exp(x - max)).
void log_softmax(const float* x, int64_t V, std::vector<double>& out) {
  out.resize(V);
  const double m = *std::max_element(x, x + V);
  double s = 0;
  for (int64_t i = 0; i < V; ++i) s += std::exp(x[i] - m);
  const double lse = m + std::log(s);
  for (int64_t i = 0; i < V; ++i) out[i] = x[i] - lse;
}

}  // namespace

LogitError compare_logits(const float* ref, const float* test, int64_t T, int64_t V) {
  LogitError e;
  double d2 = 0, r2 = 0;
  std::vector<double> lp, lq;
  for (int64_t t = 0; t < T; ++t) {
    const float* r = ref + t * V;
    const float* x = test + t * V;
    for (int64_t i = 0; i < V; ++i) {
      const double d = static_cast<double>(x[i]) - r[i];
      e.max_abs = std::max(e.max_abs, std::fabs(d));
      d2 += d * d;
      r2 += static_cast<double>(r[i]) * r[i];
    }
    e.top1_agree += std::max_element(r, r + V) - r == std::max_element(x, x + V) - x;
    log_softmax(r, V, lp);
    log_softmax(x, V, lq);
    double kl = 0;
    for (int64_t i = 0; i < V; ++i) kl += std::exp(lp[i]) * (lp[i] - lq[i]);
    e.mean_kl += kl;
  }
  e.rel_rms = r2 > 0 ? std::sqrt(d2 / r2) : 0;
  e.top1_agree /= static_cast<double>(T);
  e.mean_kl /= static_cast<double>(T);
  return e;
}

}  // namespace mla::bench
