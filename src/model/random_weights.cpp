#include "model/random_weights.h"

#include <cmath>
#include <cstring>

#include "core/error.h"

namespace mla {
namespace {

uint64_t hash_name(const std::string& s, uint64_t seed) {  // FNV-1a
  uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// splitmix64: a fast, well-mixed stream; element i depends only on (key, i), so threads can fill
// disjoint ranges without sharing state.
inline uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

}  // namespace

RandomWeights::RandomWeights(DType dtype, uint64_t seed, ThreadPool& pool) : dtype_(dtype), seed_(seed), pool_(pool) {
  if (dtype != DType::F32 && dtype != DType::BF16 && dtype != DType::F16)
    fail("random weights: dtype ", dtype_name(dtype), " is not supported (F32, BF16, F16)");
}

bool RandomWeights::has(const std::string&) const { return true; }

const TensorView& RandomWeights::get(const std::string& name, const std::vector<int64_t>& shape) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = tensors_.find(name);
  if (it != tensors_.end()) {
    if (it->second.view.shape != shape) fail("random weights: tensor ", name, " requested with two shapes");
    return it->second.view;
  }
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  const bool is_vector = shape.size() == 1;
  const DType dt = is_vector ? DType::F32 : dtype_;
  // Uniform in [-a, a] has std a / sqrt(3).
  double mean = 0, std = 0.05;
  if (is_vector && ends_with(name, "norm.weight")) {
    mean = 1.0;
    std = 0.05;
  } else if (is_vector) {
    std = 0.01;  // biases
  } else if (name.find("embed_tokens") == std::string::npos) {
    std = 1.0 / std::sqrt(static_cast<double>(shape.back()));
  }
  const float a = static_cast<float>(std * std::sqrt(3.0)), m = static_cast<float>(mean);
  Tensor t;
  t.data = make_huge_buffer<uint8_t>(numel * dtype_size(dt));
  const uint64_t key = hash_name(name, seed_);
  uint8_t* out = t.data.get();
  pool_.parallel_for(numel, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float u = static_cast<float>(mix(key + static_cast<uint64_t>(i)) >> 40) * (1.0f / 16777216.0f);  // [0, 1)
      const float v = m + a * (2.0f * u - 1.0f);
      switch (dt) {
        case DType::F32: std::memcpy(out + 4 * i, &v, 4); break;
        case DType::BF16: { const uint16_t h = f32_to_bf16(v); std::memcpy(out + 2 * i, &h, 2); break; }
        case DType::F16: { const uint16_t h = f32_to_f16(v); std::memcpy(out + 2 * i, &h, 2); break; }
        default: break;  // rejected above
      }
    }
  });
  t.view = TensorView{name, dt, shape, out, static_cast<size_t>(numel) * dtype_size(dt), &origin_};
  bytes_ += t.view.nbytes;
  return tensors_.emplace(name, std::move(t)).first->second.view;
}

}  // namespace mla
