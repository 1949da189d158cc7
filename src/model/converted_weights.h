// A WeightSource that converts another source's linear-layer weights when they are first bound:
// to one dtype (`--quant <block type>`: quantize at load; F32 / F16 / BF16 copies for the logit
// error report), or to a per-tensor type from a chooser (a preset's mix, model/quant_presets.h).
//
// Converted: every 2-D `*.weight` tensor (embeddings and lm_head included), from any stored dtype
// (BF16, F16, F32, fp8 with its 128x128 `weight_scale_inv`, which is folded in and no longer bound).
// Kept as stored: 1-D tensors (norms, biases, e_score_correction_bias), fp8 scale tensors, and the
// MoE router `mlp.gate.weight`: it is small (experts x hidden), and its scores pick which experts
// run, so a quantization error there changes the routing (a discrete error), not just a logit.
// Block formats also keep a weight whose columns are not whole blocks of the format.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <string>
#include <vector>

#include "core/huge_buffer.h"
#include "core/thread_pool.h"
#include "model/weight_source.h"

namespace mla {

// Whether the rule above converts tensor `t` to `target`.
bool converts_to(const TensorView& t, DType target);
// Whether `t` is a weight the rule above converts at all (2-D, not the router, not already packed).
bool is_convertible_weight(const TensorView& t);

// The type a convertible weight becomes; nullopt keeps it as stored.
using WeightTypeFn = std::function<std::optional<DType>(const TensorView& t)>;

// rows x cols of `t` (stored dtype; fp8 with `scale_inv`, else nullptr) converted to `target`,
// rows split across the pool: dtype_row_bytes(target, cols) * rows bytes at out.
void convert_matrix(const TensorView& t, const float* scale_inv, DType target, uint8_t* out, ThreadPool& pool);

// The fp8 block scales `<name>_scale_inv` of weight `name` [rows x cols], checked (F32, aligned).
const float* fp8_block_scales(const WeightSource& src, const std::string& name, int64_t rows, int64_t cols);

class ConvertedWeights : public WeightSource {
 public:
  // target: a block type with a quantizer, F32, F16 or BF16.
  ConvertedWeights(std::unique_ptr<WeightSource> inner, DType target, ThreadPool& pool);
  // choose: called for each convertible weight (is_convertible_weight) when first bound.
  ConvertedWeights(std::unique_ptr<WeightSource> inner, WeightTypeFn choose, ThreadPool& pool);

  bool has(const std::string& name) const override { return inner_->has(name); }
  const TensorView& get(const std::string& name, const std::vector<int64_t>& shape) const override;

 private:
  struct Tensor {
    HugeBuffer<uint8_t> data;
    TensorView view;
  };
  std::unique_ptr<WeightSource> inner_;
  WeightTypeFn choose_;
  ThreadPool& pool_;
  mutable std::mutex mutex_;
  mutable std::map<std::string, Tensor> converted_;
};

}  // namespace mla
