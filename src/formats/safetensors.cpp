// safetensors reader. The checks follow the format's README and the reference implementation
// (safetensors/src/tensor.rs, `SafeTensors::read_metadata` and `Metadata::validate`):
//   - 8-byte little-endian header length N, N <= 100,000,000 (MAX_HEADER_SIZE), 8 + N <= file size;
//   - the header starts with '{' and is a UTF-8 JSON object;
//   - every entry {dtype, shape, data_offsets} with begin <= end, and numel x dtype size == end - begin;
//   - the entries, ordered by offset, tile the byte buffer exactly: the first starts at 0, each starts
//     where the previous ended (no holes: the spec forbids them to rule out polyglot files, and no
//     overlaps), the last ends at the end of the file.
// The header's own key order is not required to follow the offsets (the reference sorts before
// checking); tensors() keeps the header order.
#include "formats/safetensors.h"

#include <algorithm>
#include <numeric>
#include <string_view>

#include "core/error.h"
#include "formats/json_strict.h"

namespace mla {

namespace {

constexpr uint64_t kMaxHeaderSize = 100'000'000;

// Reads a JSON number that must be a non-negative integer fitting in uint64.
bool as_u64(const nlohmann::ordered_json& v, uint64_t* out) {
  if (v.is_number_unsigned()) {
    *out = v.get<uint64_t>();
    return true;
  }
  if (v.is_number_integer()) {
    int64_t x = v.get<int64_t>();
    if (x < 0) return false;
    *out = static_cast<uint64_t>(x);
    return true;
  }
  return false;
}

// dtypes the safetensors spec defines that the engine does not compute with.
bool is_known_unsupported_dtype(const std::string& s) {
  static const char* const names[] = {"BOOL", "I8",  "I16",    "U16",     "I32",      "U32",
                                      "I64",  "U64", "F64", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2",
                                      "F4",   "C64", "F8_E4M3FNUZ", "F8_E5M2FNUZ"};
  return std::find(std::begin(names), std::end(names), s) != std::end(names);
}

}  // namespace

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string TensorView::shape_str() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

SafetensorsFile::SafetensorsFile(const std::string& path) : file_(path) {
  const uint8_t* base = file_.data();
  const uint64_t file_size = file_.size();
  if (file_size < 8) fail(path, ": file is ", file_size, " bytes, too short for a safetensors header (8-byte length)");

  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | base[i];  // little-endian u64
  if (n > kMaxHeaderSize)
    fail(path, ": header length ", n, " exceeds the limit of ", kMaxHeaderSize, " bytes");
  if (n > file_size - 8)
    fail(path, ": header length ", n, " runs past the end of the file (", file_size, " bytes)");
  if (n == 0 || base[8] != '{') fail(path, ": header is not a JSON object (must start with '{')");

  const std::string_view text(reinterpret_cast<const char*>(base + 8), n);
  const auto header = parse_json_strict<nlohmann::ordered_json>(text, path + ": header");
  if (!header.is_object()) fail(path, ": header is not a JSON object");

  const uint8_t* buffer = base + 8 + n;
  const uint64_t buffer_size = file_size - 8 - n;

  struct Range {
    uint64_t begin, end;
    size_t tensor;
  };
  std::vector<Range> ranges;
  ranges.reserve(header.size());

  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) fail(path, ": __metadata__ must be an object of strings, got ", json_brief(entry));
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string())
          fail(path, ": __metadata__ key '", k, "' must map to a string, got ", json_brief(v));
        metadata_[k] = v.get<std::string>();
      }
      continue;
    }
    // Duplicated names never get here: parse_json_strict rejects repeated keys.
    const std::string where = path + ": tensor " + name;
    if (!entry.is_object()) fail(where, ": entry must be an object, got ", json_brief(entry));
    for (const auto& [k, v] : entry.items())
      if (k != "dtype" && k != "shape" && k != "data_offsets") fail(where, ": unexpected key '", k, "'");

    TensorView t;
    t.name = name;

    auto dt = entry.find("dtype");
    if (dt == entry.end()) fail(where, ": missing 'dtype'");
    if (!dt->is_string()) fail(where, ": 'dtype' must be a string, got ", json_brief(*dt));
    const std::string dname = dt->get<std::string>();
    if (auto d = dtype_from_name(dname)) {
      t.dtype = *d;
    } else if (is_known_unsupported_dtype(dname)) {
      fail(path, ": unsupported dtype '", dname, "' for tensor ", name, " (supported: F32, F16, BF16, F8_E4M3, U8)");
    } else {
      fail(path, ": unknown dtype '", dname, "' for tensor ", name);
    }

    auto sh = entry.find("shape");
    if (sh == entry.end()) fail(where, ": missing 'shape'");
    if (!sh->is_array()) fail(where, ": 'shape' must be an array, got ", json_brief(*sh));
    uint64_t numel = 1;
    bool overflow = false;
    for (const auto& d : *sh) {
      uint64_t dim;
      if (!as_u64(d, &dim)) fail(where, ": shape ", json_brief(*sh), " has a dimension that is not a non-negative integer");
      if (dim > static_cast<uint64_t>(INT64_MAX)) fail(where, ": shape dimension ", dim, " is too large");
      t.shape.push_back(static_cast<int64_t>(dim));
      overflow |= __builtin_mul_overflow(numel, dim, &numel);
    }

    auto off = entry.find("data_offsets");
    if (off == entry.end()) fail(where, ": missing 'data_offsets'");
    uint64_t begin, end;
    if (!off->is_array() || off->size() != 2 || !as_u64((*off)[0], &begin) || !as_u64((*off)[1], &end))
      fail(where, ": 'data_offsets' must be [begin, end] of non-negative integers, got ", json_brief(*off));
    if (begin > end) fail(where, ": data_offsets [", begin, ", ", end, "] has begin > end");

    uint64_t nbytes = 0;
    if (overflow || __builtin_mul_overflow(numel, static_cast<uint64_t>(dtype_size(t.dtype)), &nbytes))
      fail(where, ": shape ", t.shape_str(), " x ", dname, " overflows 64-bit byte count");
    if (nbytes != end - begin)
      fail(where, ": shape ", t.shape_str(), " x ", dname, " is ", nbytes, " bytes but data_offsets [", begin,
           ", ", end, "] span ", end - begin);
    if (end > buffer_size)
      fail(where, ": data_offsets [", begin, ", ", end, "] run past the end of the data (", buffer_size,
           " bytes after the header); file truncated?");

    t.data = buffer + begin;
    t.nbytes = static_cast<size_t>(nbytes);
    t.file = &file_.path();
    ranges.push_back({begin, end, tensors_.size()});
    index_[t.name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }

  // The ranges ordered by offset must tile [0, buffer_size).
  std::stable_sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expect = 0;
  const Range* prev = nullptr;
  for (const Range& r : ranges) {
    const std::string& name = tensors_[r.tensor].name;
    if (r.begin > expect)
      fail(path, ": gap in the data: bytes [", expect, ", ", r.begin, ") belong to no tensor (next is tensor ",
           name, ")");
    if (r.begin < expect)
      fail(path, ": tensor ", name, " data_offsets [", r.begin, ", ", r.end, "] overlap tensor ",
           tensors_[prev->tensor].name, " [", prev->begin, ", ", prev->end, "]");
    expect = r.end;
    prev = &r;
  }
  if (expect != buffer_size)
    fail(path, ": ", buffer_size - expect, " trailing bytes after the last tensor (data ends at ", expect,
         ", file has ", buffer_size, " bytes after the header)");
}

const TensorView* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace mla
