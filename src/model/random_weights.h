// Deterministic random weights generated in memory on first request, for benchmarks that need a
// model of a given shape without a file: the same (seed, name, shape) always gives the same values.
// Scaled like trained weights: norm weights ~1, embeddings std 0.05, a linear layer's weights
// std 1/sqrt(in_features), so activations stay in range through many layers.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/huge_buffer.h"
#include "core/thread_pool.h"
#include "model/weight_source.h"

namespace mla {

class RandomWeights : public WeightSource {
 public:
  // dtype: the storage type of matrices (vectors are always F32).
  RandomWeights(DType dtype, uint64_t seed, ThreadPool& pool);

  bool has(const std::string& name) const override;
  const TensorView& get(const std::string& name, const std::vector<int64_t>& shape) const override;
  size_t bytes() const { return bytes_; }

 private:
  struct Tensor {
    HugeBuffer<uint8_t> data;
    TensorView view;
  };
  DType dtype_;
  uint64_t seed_;
  ThreadPool& pool_;
  std::string origin_ = "random weights";
  mutable std::mutex mutex_;
  mutable std::map<std::string, Tensor> tensors_;
  mutable size_t bytes_ = 0;
};

}  // namespace mla
