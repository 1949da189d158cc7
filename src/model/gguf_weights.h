// A GGUF file's tensors presented under the Hugging Face names the models bind (model/gguf_names.h),
// so DeepseekModel and LlamaModel load a GGUF exactly as they load a checkpoint directory.
// Views point into the memory map wherever the layout allows: renamed tensors and each expert's
// slice of the stacked ffn_*_exps tensors. Only what llama.cpp stores rearranged is copied into
// memory owned here: kv_b_proj reassembled from attn_k_b (transposed back) and attn_v_b, and Llama's
// q_proj / k_proj rows un-permuted to Hugging Face's half-split RoPE layout.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "formats/gguf.h"
#include "model/config.h"
#include "model/weight_source.h"

namespace mla {

class GgufWeights : public WeightSource {
 public:
  // `cfg` is gguf_config(*file). Throws mla::Error naming the tensor for unknown tensors (what the
  // engine would silently ignore, e.g. biases), wrong ranks or shapes.
  GgufWeights(std::unique_ptr<GgufFile> file, const ModelConfig& cfg);

  bool has(const std::string& name) const override { return views_.count(name) != 0; }
  const TensorView& get(const std::string& name, const std::vector<int64_t>& shape) const override;
  std::vector<std::string> names() const;

 private:
  void add(const std::string& hf_name, const TensorView& t, const uint8_t* data, std::vector<int64_t> shape);
  void add_experts(long layer, const std::string& proj, const TensorView& t);
  void add_kv_b(long layer, const TensorView& k_b, const TensorView& v_b, const ModelConfig& cfg);
  void add_unpermuted(const std::string& hf_name, const TensorView& t, int64_t n_head);

  std::unique_ptr<GgufFile> file_;
  std::map<std::string, TensorView> views_;  // Hugging Face name -> view
  std::vector<std::unique_ptr<uint8_t[]>> owned_;
};

}  // namespace mla
