#include "model/weight_binder.h"

#include <cstring>

#include "core/error.h"

namespace mla {

Matrix WeightBinder::matrix(const std::string& prefix, int64_t rows, int64_t cols) {
  const TensorView& t = weights_.get(prefix + ".weight", {rows, cols});
  if (t.dtype == DType::U8)  // (a Checkpoint already refuses these; any other source too)
    fail(*t.file, ": tensor ", t.name, " is raw U8 bytes, not a weight type");
  if (dtype_is_quantized(t.dtype) && cols % kQuantBlock != 0)
    fail(*t.file, ": tensor ", t.name, " is ", dtype_name(t.dtype), " with ", cols, " columns, not a multiple of ",
         kQuantBlock);
  Matrix m{t.dtype, rows, cols, aligned(t), nullptr};
  if (t.dtype == DType::F8_E4M3) {
    const int64_t sr = (rows + kFp8Block - 1) / kFp8Block, sc = (cols + kFp8Block - 1) / kFp8Block;
    const TensorView& s = weights_.get(prefix + ".weight_scale_inv", {sr, sc});
    if (s.dtype != DType::F32)
      fail(*s.file, ": tensor ", s.name, " has dtype ", dtype_name(s.dtype), ", expected F32 block scales");
    m.scale_inv = reinterpret_cast<const float*>(aligned(s));
  }
  params += rows * cols;
  return m;
}

std::vector<float> WeightBinder::vector(const std::string& name, int64_t n) {
  const TensorView& t = weights_.get(name, {n});
  if (t.dtype != DType::F32 && t.dtype != DType::BF16 && t.dtype != DType::F16)
    fail(*t.file, ": tensor ", name, " is ", dtype_name(t.dtype), "; expected a float vector (F32, BF16, F16)");
  const uint8_t* data = aligned(t);
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) {
    switch (t.dtype) {
      case DType::F32: std::memcpy(&v[i], data + 4 * i, 4); break;
      case DType::BF16: v[i] = bf16_to_f32(static_cast<uint16_t>(data[2 * i] | (data[2 * i + 1] << 8))); break;
      case DType::F16: v[i] = f16_to_f32(static_cast<uint16_t>(data[2 * i] | (data[2 * i + 1] << 8))); break;
      default: break;  // rejected above
    }
  }
  params += n;
  return v;
}

MlpWeights WeightBinder::mlp(const std::string& prefix, int64_t hidden, int64_t inter) {
  return {matrix(prefix + ".gate_proj", inter, hidden), matrix(prefix + ".up_proj", inter, hidden),
          matrix(prefix + ".down_proj", hidden, inter)};
}

// Kernels read elements as their type; a tensor at an offset the type cannot be read from is
// copied once (published checkpoints are aligned, so this is for hand-made files).
const uint8_t* WeightBinder::aligned(const TensorView& t) {
  const size_t align = dtype_is_quantized(t.dtype) ? alignof(uint16_t) : dtype_size(t.dtype);  // blocks start with an f16
  if (reinterpret_cast<uintptr_t>(t.data) % align == 0) {
    spans.emplace_back(t.data, t.nbytes);
    return t.data;
  }
  realigned_.emplace_back(new uint8_t[t.nbytes]);
  std::memcpy(realigned_.back().get(), t.data, t.nbytes);
  return realigned_.back().get();
}

void prefault(const std::vector<std::pair<const uint8_t*, size_t>>& spans, const LoadProgress& progress) {
  size_t total = 0, done = 0;
  for (const auto& s : spans) total += s.second;
  volatile uint8_t sink = 0;
  for (const auto& [p, n] : spans) {
    for (size_t off = 0; off < n; off += 4096) sink = sink + p[off];
    done += n;
    if (progress) progress(done, total);
  }
}

}  // namespace mla
