// A WeightSource that converts another source's linear-layer weights to one dtype when they are
// first bound: `--quant q8_0|q4_0` (quantize at load), and F32 / F16 / BF16 copies for the logit
// error report (`mla quantize --report`).
//
// Converted: every 2-D `*.weight` tensor (embeddings and lm_head included), from any stored dtype
// (BF16, F16, F32, fp8 with its 128x128 `weight_scale_inv`, which is folded in and no longer bound).
// Kept as stored: 1-D tensors (norms, biases, e_score_correction_bias), fp8 scale tensors, and the
// MoE router `mlp.gate.weight`: it is small (experts x hidden), and its scores pick which experts
// run, so a quantization error there changes the routing (a discrete error), not just a logit.
// Block formats also keep a weight whose columns are not a multiple of 32 (no whole blocks).
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

// Whether the rule above converts tensor `t` to `target`.
bool converts_to(const TensorView& t, DType target);

// rows x cols of `t` (stored dtype; fp8 with `scale_inv`, else nullptr) converted to `target`,
// rows split across the pool: dtype_row_bytes(target, cols) * rows bytes at out.
void convert_matrix(const TensorView& t, const float* scale_inv, DType target, uint8_t* out, ThreadPool& pool);

// The fp8 block scales `<name>_scale_inv` of weight `name` [rows x cols], checked (F32, aligned).
const float* fp8_block_scales(const WeightSource& src, const std::string& name, int64_t rows, int64_t cols);

class ConvertedWeights : public WeightSource {
 public:
  // target: Q8_0, Q4_0, F32, F16 or BF16.
  ConvertedWeights(std::unique_ptr<WeightSource> inner, DType target, ThreadPool& pool);

  bool has(const std::string& name) const override { return inner_->has(name); }
  const TensorView& get(const std::string& name, const std::vector<int64_t>& shape) const override;

 private:
  struct Tensor {
    HugeBuffer<uint8_t> data;
    TensorView view;
  };
  std::unique_ptr<WeightSource> inner_;
  DType target_;
  ThreadPool& pool_;
  mutable std::mutex mutex_;
  mutable std::map<std::string, Tensor> converted_;
};

}  // namespace mla
