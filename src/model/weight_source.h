// Where a model's weights come from, by Hugging Face tensor name: a checkpoint on disk
// (model/checkpoint.h) or deterministic random weights generated in memory for benchmarks
// (model/random_weights.h). Models bind their weights through this and never know which.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "formats/safetensors.h"

namespace mla {

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  virtual bool has(const std::string& name) const = 0;
  // The tensor, checked against `shape`; throws mla::Error naming the tensor when it is missing or
  // shaped otherwise. The view stays valid as long as the source lives.
  virtual const TensorView& get(const std::string& name, const std::vector<int64_t>& shape) const = 0;
};

}  // namespace mla
