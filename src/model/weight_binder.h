// Binds a checkpoint's tensors (Hugging Face names) to a model's weight views, checking every shape
// against the config, and counts the parameters bound. Shared by every architecture's loader.
// Weights stay in the memory map in their stored dtype.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kernels/matrix.h"
#include "model/model.h"
#include "model/swiglu.h"
#include "model/weight_source.h"

namespace mla {

class WeightBinder {
 public:
  // Tensors stored at an offset their dtype cannot be read from are copied into `realigned`, which
  // the model keeps alive.
  WeightBinder(const WeightSource& weights, std::vector<std::unique_ptr<uint8_t[]>>& realigned)
      : weights_(weights), realigned_(realigned) {}

  // `<prefix>.weight` as a [rows x cols] matrix; fp8 brings its `<prefix>.weight_scale_inv`.
  Matrix matrix(const std::string& prefix, int64_t rows, int64_t cols);
  // A vector of any float dtype, converted to f32 (norm weights, biases: small).
  std::vector<float> vector(const std::string& name, int64_t n);
  // `<prefix>.{gate,up,down}_proj`
  MlpWeights mlp(const std::string& prefix, int64_t hidden, int64_t inter);

  int64_t params = 0;                                     // elements bound so far
  std::vector<std::pair<const uint8_t*, size_t>> spans;  // what the forward pass reads

 private:
  const uint8_t* aligned(const TensorView& t);

  const WeightSource& weights_;
  std::vector<std::unique_ptr<uint8_t[]>>& realigned_;
};

// Touches every page the forward pass will read so that loading cost is paid (and shown) here,
// not inside the first token's timing.
void prefault(const std::vector<std::pair<const uint8_t*, size_t>>& spans, const LoadProgress& progress);

}  // namespace mla
