// safetensors writer (the format of formats/safetensors.h): the header is computed from the
// tensors' dtypes and shapes first, then each tensor's bytes are produced and written in turn, so a
// checkpoint larger than memory can be written one tensor at a time. The header is padded with
// spaces to a multiple of 8 bytes (as the reference implementation does), so the data buffer starts
// 8-byte aligned in the file; tensors are laid out back to back in the order given.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tensor/dtype.h"

namespace mla {

struct TensorToWrite {
  std::string name;
  DType dtype;                 // an element type: F32, F16, BF16, F8_E4M3, U8
  std::vector<int64_t> shape;  // shape product x dtype size bytes
};

// Fills `out` (already sized to the tensor's byte count) with the bytes of tensor `index`.
using TensorProducer = std::function<void(size_t index, std::vector<uint8_t>& out)>;

// Writes `path` (through `path.tmp`, renamed at the end); throws mla::Error on I/O errors.
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata, const TensorProducer& produce);

}  // namespace mla
