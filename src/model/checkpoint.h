// A Hugging Face model directory's weights: `model.safetensors`, or shards listed in
// `model.safetensors.index.json` ({"weight_map": {tensor name: shard file name}}). Every shard is
// memory-mapped; the index must agree with the shards (each listed tensor is in its shard, no
// tensor in two shards). Tensors written by `mla quantize` (U8 bytes plus metadata) are seen as
// Q8_0 / Q4_0 [rows, cols] views over the same mapped bytes.
#pragma once
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "formats/safetensors.h"
#include "model/weight_source.h"

namespace mla {

class Checkpoint : public WeightSource {
 public:
  explicit Checkpoint(const std::string& dir);  // throws mla::Error naming the file and problem

  const std::string& dir() const { return dir_; }
  bool has(const std::string& name) const override;
  // Throws "<dir>: missing tensor <name>" when absent.
  const TensorView& get(const std::string& name) const;
  // Also checks the shape: "<file>: tensor <name> has shape [a, b], expected [c, d]".
  const TensorView& get(const std::string& name, const std::vector<int64_t>& shape) const override;
  std::vector<std::string> names() const;
  size_t total_bytes() const;  // sum of tensor bytes over all shards
  size_t num_files() const { return files_.size(); }

 private:
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorView*> tensors_;
  std::deque<TensorView> quantized_;  // block-format views of U8 tensors (model/quantized_tensors.h)
};

}  // namespace mla
