#include "bench/weight_pages.h"

#include <algorithm>
#include <functional>

#include "formats/gguf.h"
#include "model/checkpoint.h"

namespace mla::bench {

MappedWeightBytes mapped_weight_bytes(const std::string& model) {
  MappedWeightBytes m;
  std::vector<TensorView> views;
  if (is_gguf_file(model)) {
    auto f = std::make_shared<const GgufFile>(model);
    views = f->tensors();
    m.owner = f;
  } else {
    auto ck = std::make_shared<const Checkpoint>(model);
    for (const auto& name : ck->names()) views.push_back(ck->get(name));
    m.owner = ck;
  }
  std::sort(views.begin(), views.end(), [](const TensorView& a, const TensorView& b) { return std::less<>()(a.data, b.data); });
  // GGUF pads tensor data to its alignment (32 bytes by default); safetensors packs tensors.
  constexpr size_t kPadding = 64;
  for (const TensorView& t : views) {
    if (t.nbytes == 0) continue;
    if (!m.spans.empty()) {
      const uint8_t* end = m.spans.back().data() + m.spans.back().size();
      if (t.data >= end && t.data <= end + kPadding) {
        m.spans.back() = {m.spans.back().data(), static_cast<size_t>(t.data + t.nbytes - m.spans.back().data())};
        continue;
      }
    }
    m.spans.emplace_back(t.data, t.nbytes);
  }
  return m;
}

}  // namespace mla::bench
