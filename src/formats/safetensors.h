// safetensors reader (https://github.com/huggingface/safetensors, "Format"):
//   8 bytes  N, little-endian u64: length of the JSON header
//   N bytes  JSON object: {"name": {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}, ...,
//            optional "__metadata__": {string: string}}
//   rest     the byte buffer; offsets are relative to its start.
// Validated strictly: header length limit (100 MB) and within the file, valid UTF-8 JSON object,
// known dtypes, offsets sorted, contiguous and non-overlapping, covering the buffer exactly (the data
// ends at end of file), shape product x dtype size == end - begin with overflow-checked arithmetic.
// Tensors are views into the memory map: nothing is copied.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "tensor/dtype.h"

namespace mla {

struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;  // into the mapped file; not aligned in general
  size_t nbytes = 0;
  const std::string* file = nullptr;  // path of the file it lives in, for error messages

  int64_t numel() const;
  std::string shape_str() const;  // "[2048, 512]"
};

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);  // throws mla::Error "<path>: <what is wrong>"
  // Views point into this object (TensorView::file is &path()): it stays where it was made.
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  SafetensorsFile(SafetensorsFile&&) = delete;
  SafetensorsFile& operator=(SafetensorsFile&&) = delete;

  const std::string& path() const { return file_.path(); }
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const TensorView* find(const std::string& name) const;  // nullptr if absent
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  MappedFile file_;
  std::vector<TensorView> tensors_;  // in file order
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace mla
