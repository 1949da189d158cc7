// How far one run's logits are from a reference run's over the same tokens: the numbers of the
// weight-format report (`mla quantize --report`, docs/QUANTIZATION.md).
#pragma once
#include <cstdint>

namespace mla::bench {

struct LogitError {
  double max_abs = 0;     // max over positions and vocab of |logit - ref|
  double rel_rms = 0;     // RMS(logit - ref) / RMS(ref), over all positions and vocab
  double top1_agree = 0;  // fraction of positions whose argmax equals the reference's
  double mean_kl = 0;     // mean over positions of KL(softmax(ref) || softmax(logit)), nats
};

// ref, test: [T x V] logits.
LogitError compare_logits(const float* ref, const float* test, int64_t T, int64_t V);

}  // namespace mla::bench
