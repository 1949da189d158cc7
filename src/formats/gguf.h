// GGUF v3 reader (ggml/docs/gguf.md). All integers little-endian:
//   u32 magic "GGUF" | u32 version (3; 2 has the same layout) | u64 tensor_count | u64 kv_count
//   kv_count x { string key | u32 value type | value }
//       string = u64 length + that many bytes (UTF-8, no terminator)
//       value  = one of u8 i8 u16 i16 u32 i32 f32 bool(u8 0/1) string u64 i64 f64 (type ids 0..12,
//                array = 9: u32 element type + u64 count + count values, arrays may nest)
//   tensor_count x { string name | u32 n_dims | n_dims x u64 ne (innermost first: ne[0] = columns)
//                    | u32 ggml type | u64 offset (from the data section, a multiple of alignment) }
//   padding to `general.alignment` (u32 key, default 32) | tensor data
// Validated with overflow-checked arithmetic against the file size before anything is allocated:
// every count and length must fit in the bytes that remain, with caps on string lengths, array
// counts, nesting depth, tensor and key counts and dimensions; keys and tensor names unique; tensor
// types F32, F16, BF16 and the block formats quants/dequantize.h decodes (others rejected by name);
// dims non-zero, rows of whole blocks (32 or 256 values);
// every tensor's data inside the file and no two tensors' data overlapping.
// Tensors are views into the memory map, with `shape` in Hugging Face order (outermost first, the
// reverse of GGUF's ne).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "formats/safetensors.h"

namespace mla {

enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
const char* gguf_type_name(GgufType t);

// One metadata value. Integers keep their sign in `i` (signed types) or `u` (unsigned, bool);
// floats in `f`; strings in `s`; arrays in `arr` with `elem` their element type.
struct GgufValue {
  GgufType type = GgufType::U8;
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0;
  std::string s;
  GgufType elem = GgufType::U8;
  std::vector<GgufValue> arr;
};

// ggml type ids (ggml.h enum ggml_type) of the tensor types this engine reads.
constexpr uint32_t kGgmlF32 = 0, kGgmlF16 = 1, kGgmlQ4_0 = 2, kGgmlQ8_0 = 8, kGgmlBF16 = 30;
uint32_t ggml_type_of(DType t);  // throws for F8_E4M3 (no GGUF type)

// True when `path` is a regular file starting with the GGUF magic (how commands tell a .gguf from a
// model directory or a config.json).
bool is_gguf_file(const std::string& path);

class GgufFile {
 public:
  explicit GgufFile(const std::string& path);  // throws mla::Error "<path>: <what is wrong>"
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return file_.path(); }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  const std::map<std::string, GgufValue>& metadata() const { return kv_; }
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const TensorView* find(const std::string& name) const;  // nullptr if absent
  // Byte offset of a tensor's data in the file (t from tensors()).
  size_t file_offset(const TensorView& t) const { return static_cast<size_t>(t.data - file_.data()); }

  // Typed metadata access; errors name the file and the key. `has` is true when the key exists.
  bool has(const std::string& key) const { return kv_.count(key) != 0; }
  uint64_t get_uint(const std::string& key) const;  // any integer type, must be >= 0
  uint64_t get_uint(const std::string& key, uint64_t def) const;
  double get_float(const std::string& key) const;  // f32, f64 or any integer
  double get_float(const std::string& key, double def) const;
  bool get_bool(const std::string& key, bool def) const;
  std::string get_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& def) const;
  const std::vector<GgufValue>& get_array(const std::string& key, GgufType elem) const;

 private:
  const GgufValue& get(const std::string& key) const;

  MappedFile file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  std::map<std::string, GgufValue> kv_;
  std::vector<TensorView> tensors_;  // in file order
  std::map<std::string, size_t> index_;
};

}  // namespace mla
