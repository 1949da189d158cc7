#include "model/converted_weights.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "kernels/matmul.h"
#include "tensor/quantize.h"

namespace mla {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

const float* fp8_block_scales(const WeightSource& src, const std::string& name, int64_t rows, int64_t cols) {
  const int64_t sr = (rows + kFp8Block - 1) / kFp8Block, sc = (cols + kFp8Block - 1) / kFp8Block;
  const TensorView& s = src.get(name + "_scale_inv", {sr, sc});
  if (s.dtype != DType::F32)
    fail(*s.file, ": tensor ", s.name, " has dtype ", dtype_name(s.dtype), ", expected F32 block scales");
  if (reinterpret_cast<uintptr_t>(s.data) % alignof(float) != 0)
    fail(*s.file, ": tensor ", s.name, " is not 4-byte aligned in the file");
  return reinterpret_cast<const float*>(s.data);
}

bool is_convertible_weight(const TensorView& t) {
  if (t.shape.size() != 2 || !ends_with(t.name, ".weight") || ends_with(t.name, "mlp.gate.weight")) return false;
  return t.dtype != DType::U8 && !dtype_is_quantized(t.dtype);  // already packed: never requantized
}

bool converts_to(const TensorView& t, DType target) {
  if (!is_convertible_weight(t)) return false;
  if (dtype_is_quantized(target) && t.shape[1] % dtype_block_values(target) != 0) return false;
  return t.dtype != target;
}

void convert_matrix(const TensorView& t, const float* scale_inv, DType target, uint8_t* out, ThreadPool& pool) {
  const int64_t rows = t.shape[0], cols = t.shape[1];
  // decode_row reads elements as their type: a tensor at an odd offset is copied once first.
  std::unique_ptr<uint8_t[]> copy;
  const uint8_t* data = t.data;
  if (reinterpret_cast<uintptr_t>(data) % alignof(float) != 0) {
    copy.reset(new uint8_t[t.nbytes]);
    std::memcpy(copy.get(), t.data, t.nbytes);
    data = copy.get();
  }
  const Matrix src{t.dtype, rows, cols, data, scale_inv};
  const size_t out_row = dtype_row_bytes(target, cols);
  // The quantizers' float -> int conversions are undefined for inf / NaN: such a row is reported
  // (after the parallel loop: pool workers must not throw) instead of quantized.
  std::atomic<int64_t> bad_row{-1};
  pool.parallel_for(rows, [&](int64_t r0, int64_t r1) {
    std::vector<float> row(cols);
    for (int64_t r = r0; r < r1; ++r) {
      decode_row(src, r, row.data());
      uint8_t* o = out + static_cast<size_t>(r) * out_row;
      if (dtype_is_quantized(target) && !std::all_of(row.begin(), row.end(), [](float v) { return std::isfinite(v); })) {
        bad_row = r;
        continue;
      }
      switch (target) {
        case DType::F32: std::memcpy(o, row.data(), out_row); break;
        case DType::F16:
        case DType::BF16:
          for (int64_t c = 0; c < cols; ++c) {
            const uint16_t h = target == DType::F16 ? f32_to_f16(row[c]) : f32_to_bf16(row[c]);
            std::memcpy(o + 2 * c, &h, 2);
          }
          break;
        default: quantize_row(target, row.data(), o, cols); break;  // block types (checked by the constructor)
      }
    }
  });
  if (bad_row >= 0)
    fail(*t.file, ": tensor ", t.name, " row ", bad_row.load(), " holds inf or NaN; it cannot be quantized to ",
         dtype_name(target));
}

ConvertedWeights::ConvertedWeights(std::unique_ptr<WeightSource> inner, DType target, ThreadPool& pool)
    : inner_(std::move(inner)), pool_(pool) {
  if (target == DType::F8_E4M3 || target == DType::U8 || (dtype_is_quantized(target) && !can_quantize(target)))
    fail("weight conversion: target ", dtype_name(target), " is not supported (a block type with a quantizer, F32, F16, BF16)");
  choose_ = [target](const TensorView& t) { return converts_to(t, target) ? std::optional(target) : std::nullopt; };
}

ConvertedWeights::ConvertedWeights(std::unique_ptr<WeightSource> inner, WeightTypeFn choose, ThreadPool& pool)
    : inner_(std::move(inner)), choose_(std::move(choose)), pool_(pool) {}

const TensorView& ConvertedWeights::get(const std::string& name, const std::vector<int64_t>& shape) const {
  const TensorView& t = inner_->get(name, shape);
  if (!is_convertible_weight(t)) return t;
  const std::optional<DType> target = choose_(t);
  if (!target || *target == t.dtype) return t;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = converted_.find(name);
  if (it != converted_.end()) return it->second.view;
  const float* scale_inv = t.dtype == DType::F8_E4M3 ? fp8_block_scales(*inner_, name, shape[0], shape[1]) : nullptr;
  Tensor c;
  const size_t nbytes = dtype_row_bytes(*target, shape[1]) * static_cast<size_t>(shape[0]);
  c.data = make_huge_buffer<uint8_t>(nbytes);
  convert_matrix(t, scale_inv, *target, c.data.get(), pool_);
  c.view = TensorView{t.name, *target, t.shape, c.data.get(), nbytes, t.file};
  return converted_.emplace(name, std::move(c)).first->second.view;
}

}  // namespace mla
