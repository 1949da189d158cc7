// GGUF reader. Every count and length read from the file is checked against the bytes left before
// it is used, so a lying header fails with a message instead of allocating or reading past the map
// (GGUF readers have had heap overflows from exactly that: CVE-2024-25664..25668 and friends).
#include "formats/gguf.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <optional>
#include <string>
#include <utility>

#include "core/error.h"
#include "quants/dequantize.h"

namespace mla {

namespace {

constexpr uint64_t kMaxStringBytes = uint64_t{1} << 26;   // a chat template is ~10 KB, a token ~100 B
constexpr uint64_t kMaxArrayCount = uint64_t{1} << 22;    // vocabularies are ~10^5 .. 10^6 entries
constexpr uint64_t kMaxArrayValues = uint64_t{1} << 22;   // all array elements together (~120 B each in memory)
constexpr uint64_t kMaxTensors = uint64_t{1} << 20;
constexpr uint64_t kMaxKeys = uint64_t{1} << 20;
constexpr uint32_t kMaxDims = 4;                         // GGML_MAX_DIMS
constexpr uint64_t kMaxNameBytes = 64;                   // GGML_MAX_NAME
constexpr int kMaxArrayDepth = 4;

// Names of the ggml types (ggml.h) so a file with a type we cannot compute with says which one.
const char* ggml_type_name(uint32_t t) {
  static const char* const names[] = {
      "F32",     "F16",    "Q4_0",   "Q4_1",  "Q4_2 (removed)", "Q4_3 (removed)", "Q5_0",  "Q5_1",
      "Q8_0",    "Q8_1",   "Q2_K",   "Q3_K",  "Q4_K",           "Q5_K",           "Q6_K",  "Q8_K",
      "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL",        "IQ3_S",          "IQ2_S", "IQ4_XS",
      "I8",      "I16",    "I32",    "I64",   "F64",            "IQ1_M",          "BF16",  "Q4_0_4_4 (removed)",
      "Q4_0_4_8 (removed)", "Q4_0_8_8 (removed)", "TQ1_0", "TQ2_0", "IQ4_NL_4_4 (removed)",
      "IQ4_NL_4_8 (removed)", "IQ4_NL_8_8 (removed)", "MXFP4"};
  return t < std::size(names) ? names[t] : nullptr;
}

// The ggml type id of each dtype with a GGUF tensor type (ggml.h enum ggml_type).
constexpr std::pair<DType, uint32_t> kGgmlIds[] = {
    {DType::F32, kGgmlF32}, {DType::F16, kGgmlF16},     {DType::BF16, kGgmlBF16},     {DType::Q8_0, kGgmlQ8_0},
    {DType::Q4_0, kGgmlQ4_0}, {DType::Q4_1, 3},         {DType::Q5_0, 6},             {DType::Q5_1, 7},
    {DType::Q2_K, 10},      {DType::Q3_K, 11},          {DType::Q4_K, 12},            {DType::Q5_K, 13},
    {DType::Q6_K, 14},      {DType::IQ2_XXS, 16},       {DType::IQ2_XS, 17},          {DType::IQ3_XXS, 18},
    {DType::IQ1_S, 19},     {DType::IQ4_NL, 20},        {DType::IQ3_S, 21},           {DType::IQ2_S, 22},
    {DType::IQ4_XS, 23},    {DType::IQ1_M, 29},
};

// The dtype a tensor of ggml type `t` loads as, if this engine can compute with it.
std::optional<DType> dtype_of_ggml(uint32_t t) {
  for (const auto& [dtype, id] : kGgmlIds)
    if (id == t && (!dtype_is_quantized(dtype) || can_dequantize(dtype))) return dtype;
  return std::nullopt;
}

// "F32, F16, ..." : the tensor types this reader accepts, for its error message.
std::string supported_types() {
  std::string s;
  for (const auto& [dtype, id] : kGgmlIds)
    if (dtype_of_ggml(id)) s += (s.empty() ? "" : ", ") + std::string(dtype_name(dtype));
  return s;
}

// Bounds-checked little-endian reads from the mapped file; errors carry the byte offset.
class Cursor {
 public:
  Cursor(const uint8_t* data, uint64_t size, const std::string& path) : data_(data), size_(size), path_(path) {}

  uint64_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }

  template <class... Args>
  [[noreturn]] void bad(const Args&... args) const {
    fail(path_, ": at byte ", pos_, ": ", args...);
  }

  void need(uint64_t n, const char* what) const {
    if (n > left()) bad(what, " needs ", n, " bytes but only ", left(), " remain in the file");
  }

  template <class T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));  // x86-64 and aarch64 are little-endian, as GGUF is
    pos_ += sizeof(T);
    return v;
  }

  std::string string(const char* what, uint64_t max) {
    const uint64_t n = read<uint64_t>(what);
    if (n > max) bad(what, " length ", n, " exceeds the limit of ", max, " bytes");
    need(n, what);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }

 private:
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  const std::string& path_;
};

// Smallest number of bytes one value of type t occupies in the file (for checking counts early).
uint64_t min_value_bytes(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::BOOL: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: case GgufType::STRING: return 8;
    case GgufType::ARRAY: return 12;
  }
  return 1;
}

bool valid_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::F64); }

GgufValue read_value(Cursor& c, GgufType type, int depth, uint64_t& array_values) {
  GgufValue v;
  v.type = type;
  switch (type) {
    case GgufType::U8: v.u = c.read<uint8_t>("u8 value"); break;
    case GgufType::I8: v.i = c.read<int8_t>("i8 value"); break;
    case GgufType::U16: v.u = c.read<uint16_t>("u16 value"); break;
    case GgufType::I16: v.i = c.read<int16_t>("i16 value"); break;
    case GgufType::U32: v.u = c.read<uint32_t>("u32 value"); break;
    case GgufType::I32: v.i = c.read<int32_t>("i32 value"); break;
    case GgufType::U64: v.u = c.read<uint64_t>("u64 value"); break;
    case GgufType::I64: v.i = c.read<int64_t>("i64 value"); break;
    case GgufType::F32: v.f = c.read<float>("f32 value"); break;
    case GgufType::F64: v.f = c.read<double>("f64 value"); break;
    case GgufType::BOOL: {
      const uint8_t b = c.read<uint8_t>("bool value");
      if (b > 1) c.bad("bool value ", unsigned(b), " is neither 0 nor 1");
      v.u = b;
      break;
    }
    case GgufType::STRING: v.s = c.string("string value", kMaxStringBytes); break;
    case GgufType::ARRAY: {
      if (depth >= kMaxArrayDepth) c.bad("arrays nested deeper than ", kMaxArrayDepth);
      const uint32_t elem = c.read<uint32_t>("array element type");
      if (!valid_type(elem)) c.bad("array element type ", elem, " is not a GGUF value type (0..12)");
      v.elem = static_cast<GgufType>(elem);
      const uint64_t n = c.read<uint64_t>("array count");
      if (n > kMaxArrayCount) c.bad("array count ", n, " exceeds the limit of ", kMaxArrayCount);
      // n <= 2^24 and the minimum size <= 12, so the product cannot overflow.
      if (n * min_value_bytes(v.elem) > c.left())
        c.bad("array of ", n, " ", gguf_type_name(v.elem), " values needs at least ", n * min_value_bytes(v.elem),
              " bytes but only ", c.left(), " remain in the file");
      array_values += n;
      if (array_values > kMaxArrayValues)
        c.bad("more than ", kMaxArrayValues, " array elements in the metadata in all");
      v.arr.reserve(n);
      for (uint64_t k = 0; k < n; ++k) v.arr.push_back(read_value(c, v.elem, depth + 1, array_values));
      break;
    }
  }
  return v;
}

}  // namespace

const char* gguf_type_name(GgufType t) {
  static const char* const names[] = {"u8",  "i8",     "u16",   "i16", "u32", "i32", "f32",
                                      "bool", "string", "array", "u64", "i64", "f64"};
  const auto i = static_cast<uint32_t>(t);
  return i < std::size(names) ? names[i] : "?";
}

uint32_t ggml_type_of(DType t) {
  for (const auto& [dtype, id] : kGgmlIds)
    if (dtype == t) return id;
  fail("dtype ", dtype_name(t), " has no GGUF tensor type");
}

bool is_gguf_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  char magic[4] = {};
  const bool ok = std::fread(magic, 1, 4, f) == 4 && std::memcmp(magic, "GGUF", 4) == 0;
  std::fclose(f);
  return ok;
}

GgufFile::GgufFile(const std::string& path) : file_(path) {
  const uint8_t* base = file_.data();
  const uint64_t file_size = file_.size();
  Cursor c(base, file_size, path);

  if (file_size < 4 || std::memcmp(base, "GGUF", 4) != 0) fail(path, ": not a GGUF file (bad magic)");
  c.read<uint32_t>("magic");
  version_ = c.read<uint32_t>("version");
  if (version_ != 2 && version_ != 3)
    fail(path, ": GGUF version ", version_, " is not supported (only 2 and 3, which share one layout)");
  const uint64_t n_tensors = c.read<uint64_t>("tensor count");
  const uint64_t n_kv = c.read<uint64_t>("metadata key count");
  if (n_tensors > kMaxTensors) fail(path, ": tensor count ", n_tensors, " exceeds the limit of ", kMaxTensors);
  if (n_kv > kMaxKeys) fail(path, ": metadata key count ", n_kv, " exceeds the limit of ", kMaxKeys);
  // A key is at least an 8-byte length, 1 byte of name, a 4-byte type and a 1-byte value; a tensor
  // info at least 8 + 1 + 4 + 8 + 4 + 8 bytes.
  if (n_kv * 14 + n_tensors * 33 > c.left())
    fail(path, ": ", n_kv, " metadata keys and ", n_tensors, " tensors cannot fit in the ", file_size,
         " bytes of the file");

  uint64_t array_values = 0;
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key = c.string("metadata key", kMaxStringBytes);
    if (key.empty()) c.bad("metadata key ", k, " is empty");
    const uint32_t type = c.read<uint32_t>("value type");
    if (!valid_type(type)) c.bad("key '", key, "' has value type ", type, ", not a GGUF value type (0..12)");
    GgufValue v = read_value(c, static_cast<GgufType>(type), 0, array_values);
    if (!kv_.emplace(key, std::move(v)).second) c.bad("metadata key '", key, "' appears twice");
  }
  if (auto it = kv_.find("general.alignment"); it != kv_.end()) {
    if (it->second.type != GgufType::U32)
      fail(path, ": key 'general.alignment' must be a u32, got ", gguf_type_name(it->second.type));
    alignment_ = it->second.u;
    if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0)
      fail(path, ": key 'general.alignment' is ", alignment_, ", not a power of two");
  }

  struct Info {
    uint64_t offset, nbytes;
  };
  std::vector<Info> infos;
  infos.reserve(n_tensors);
  for (uint64_t k = 0; k < n_tensors; ++k) {
    TensorView t;
    t.name = c.string("tensor name", kMaxNameBytes);
    if (t.name.empty()) c.bad("tensor ", k, " has an empty name");
    const std::string where = path + ": tensor " + t.name;
    const uint32_t n_dims = c.read<uint32_t>("tensor dimension count");
    if (n_dims == 0 || n_dims > kMaxDims) fail(where, ": ", n_dims, " dimensions (GGUF allows 1 to ", kMaxDims, ")");
    std::vector<uint64_t> ne(n_dims);
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      ne[d] = c.read<uint64_t>("tensor dimension");
      if (ne[d] == 0) fail(where, ": dimension ", d, " is zero");
      if (ne[d] > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(numel, ne[d], &numel) ||
          numel > static_cast<uint64_t>(INT64_MAX))
        fail(where, ": dimensions overflow a 64-bit element count");
    }
    const uint32_t type = c.read<uint32_t>("tensor type");
    const auto dt = dtype_of_ggml(type);
    if (!dt) {
      const char* name = ggml_type_name(type);
      if (name) fail(where, ": tensor type ", name, " is not supported (supported: ", supported_types(), ")");
      fail(where, ": unknown tensor type id ", type);
    }
    t.dtype = *dt;
    const uint64_t offset = c.read<uint64_t>("tensor data offset");
    if (offset % alignment_ != 0) fail(where, ": data offset ", offset, " is not a multiple of the alignment ", alignment_);
    const uint64_t block = static_cast<uint64_t>(dtype_block_values(t.dtype));
    if (ne[0] % block != 0)
      fail(where, ": ", dtype_name(t.dtype), " rows of ", ne[0], " values are not whole blocks of ", block);
    // numel <= INT64_MAX and at most 34 bytes per 32 values: check the product anyway.
    uint64_t nbytes;
    if (__builtin_mul_overflow(numel / block, static_cast<uint64_t>(dtype_block_bytes(t.dtype)), &nbytes))
      fail(where, ": byte size overflows 64 bits");
    for (uint32_t d = n_dims; d-- > 0;) t.shape.push_back(static_cast<int64_t>(ne[d]));
    t.nbytes = static_cast<size_t>(nbytes);
    t.file = &file_.path();
    if (!index_.emplace(t.name, tensors_.size()).second) fail(where, ": tensor name appears twice");
    tensors_.push_back(std::move(t));
    infos.push_back({offset, nbytes});
  }

  // The data section starts at the next multiple of the alignment.
  uint64_t data_start = c.pos();
  if (const uint64_t r = data_start % alignment_; r != 0) data_start += alignment_ - r;  // pos < size: no overflow
  if (tensors_.empty()) return;
  if (data_start > file_size)
    fail(path, ": the data section would start at byte ", data_start, ", past the end of the file (", file_size, " bytes)");
  const uint64_t data_size = file_size - data_start;
  for (size_t k = 0; k < tensors_.size(); ++k) {
    const Info& in = infos[k];
    if (in.offset > data_size || in.nbytes > data_size - in.offset)
      fail(path, ": tensor ", tensors_[k].name, " data [", in.offset, ", +", in.nbytes, ") runs past the end of the file (",
           data_size, " bytes of data); file truncated?");
    tensors_[k].data = base + data_start + in.offset;
  }
  std::vector<size_t> order(tensors_.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return infos[a].offset < infos[b].offset; });
  for (size_t k = 1; k < order.size(); ++k) {
    const Info &prev = infos[order[k - 1]], &cur = infos[order[k]];
    if (cur.offset < prev.offset + prev.nbytes)
      fail(path, ": tensor ", tensors_[order[k]].name, " data at offset ", cur.offset, " overlaps tensor ",
           tensors_[order[k - 1]].name, " [", prev.offset, ", ", prev.offset + prev.nbytes, ")");
  }
}

const TensorView* GgufFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const GgufValue& GgufFile::get(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end()) fail(path(), ": missing metadata key '", key, "'");
  return it->second;
}

uint64_t GgufFile::get_uint(const std::string& key) const {
  const GgufValue& v = get(key);
  switch (v.type) {
    case GgufType::U8: case GgufType::U16: case GgufType::U32: case GgufType::U64: return v.u;
    case GgufType::I8: case GgufType::I16: case GgufType::I32: case GgufType::I64:
      if (v.i < 0) fail(path(), ": key '", key, "' is ", v.i, ", expected a non-negative integer");
      return static_cast<uint64_t>(v.i);
    default: fail(path(), ": key '", key, "' is a ", gguf_type_name(v.type), ", expected an integer");
  }
}

uint64_t GgufFile::get_uint(const std::string& key, uint64_t def) const { return has(key) ? get_uint(key) : def; }

double GgufFile::get_float(const std::string& key) const {
  const GgufValue& v = get(key);
  if (v.type == GgufType::F32 || v.type == GgufType::F64) return v.f;
  if (v.type == GgufType::STRING || v.type == GgufType::ARRAY || v.type == GgufType::BOOL)
    fail(path(), ": key '", key, "' is a ", gguf_type_name(v.type), ", expected a number");
  return static_cast<double>(get_uint(key));
}

double GgufFile::get_float(const std::string& key, double def) const { return has(key) ? get_float(key) : def; }

bool GgufFile::get_bool(const std::string& key, bool def) const {
  if (!has(key)) return def;
  const GgufValue& v = get(key);
  if (v.type != GgufType::BOOL) fail(path(), ": key '", key, "' is a ", gguf_type_name(v.type), ", expected a bool");
  return v.u != 0;
}

std::string GgufFile::get_string(const std::string& key) const {
  const GgufValue& v = get(key);
  if (v.type != GgufType::STRING) fail(path(), ": key '", key, "' is a ", gguf_type_name(v.type), ", expected a string");
  return v.s;
}

std::string GgufFile::get_string(const std::string& key, const std::string& def) const {
  return has(key) ? get_string(key) : def;
}

const std::vector<GgufValue>& GgufFile::get_array(const std::string& key, GgufType elem) const {
  const GgufValue& v = get(key);
  if (v.type != GgufType::ARRAY || v.elem != elem)
    fail(path(), ": key '", key, "' is a ", gguf_type_name(v.type),
         v.type == GgufType::ARRAY ? std::string(" of ") + gguf_type_name(v.elem) : std::string(),
         ", expected an array of ", gguf_type_name(elem));
  return v.arr;
}

}  // namespace mla
