// GGUF v3 writer (the layout formats/gguf.h describes): metadata in insertion order, then tensor
// infos, then each tensor's data at the next multiple of 32 bytes (GGUF_DEFAULT_ALIGNMENT). Tensor
// bytes are produced one tensor at a time while writing, so a checkpoint never has to be in memory
// whole. The file is written beside the target and renamed into place only when complete.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "formats/gguf.h"

namespace mla {

class GgufWriter {
 public:
  // Hands bytes of the tensor being written to the file.
  using Emit = std::function<void(const uint8_t* data, size_t n)>;
  // Produces all of one tensor's bytes through emit, in order.
  using Producer = std::function<void(const Emit& emit)>;

  void add(const std::string& key, GgufValue v);
  void add_u32(const std::string& key, uint32_t v);
  void add_i32(const std::string& key, int32_t v);
  void add_f32(const std::string& key, float v);
  void add_bool(const std::string& key, bool v);
  void add_string(const std::string& key, const std::string& v);
  void add_strings(const std::string& key, const std::vector<std::string>& v);
  void add_i32s(const std::string& key, const std::vector<int32_t>& v);

  // `shape` in Hugging Face order (outermost first); written reversed as GGUF's ne.
  void add_tensor(const std::string& name, DType dtype, const std::vector<int64_t>& shape, Producer produce);

  // Throws mla::Error naming the path on I/O errors, or when a producer emits the wrong byte count.
  void write(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    uint64_t nbytes;
    Producer produce;
  };
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<Tensor> tensors_;
};

}  // namespace mla
