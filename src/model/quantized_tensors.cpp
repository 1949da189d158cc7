#include "model/quantized_tensors.h"

#include "core/error.h"
#include "formats/json_strict.h"
#include "quants/dequantize.h"

namespace mla {
namespace {

constexpr std::string_view kTypePrefix = "mla.qtype.", kShapePrefix = "mla.qshape.";

}  // namespace

void add_quant_metadata(std::map<std::string, std::string>& metadata, const std::string& name, DType type,
                        int64_t rows, int64_t cols) {
  metadata[kQuantFormatKey] = kQuantFormatVersion;
  metadata[std::string(kTypePrefix) + name] = dtype_name(type);
  metadata[std::string(kShapePrefix) + name] = str("[", rows, ", ", cols, "]");
}

std::vector<TensorView> quantized_views(const SafetensorsFile& f) {
  const auto& md = f.metadata();
  std::vector<TensorView> out;
  for (const auto& [key, value] : md) {
    const bool is_type = key.starts_with(kTypePrefix);
    if (!is_type && !key.starts_with(kShapePrefix)) continue;
    const std::string where = f.path() + ": __metadata__ key '" + key + "'";
    auto version = md.find(kQuantFormatKey);
    if (version == md.end()) fail(where, ": quantized tensors without '", kQuantFormatKey, "'");
    if (version->second != kQuantFormatVersion)
      fail(f.path(), ": __metadata__ '", kQuantFormatKey, "' is '", version->second, "'; this build reads version ",
           kQuantFormatVersion);
    const std::string name = key.substr(is_type ? kTypePrefix.size() : kShapePrefix.size());
    const std::string other = std::string(is_type ? kShapePrefix : kTypePrefix) + name;
    if (!md.count(other)) fail(where, ": no matching '", other, "'");
    if (!is_type) continue;  // each tensor once, from its type key

    const std::optional<DType> type = quant_type_from_name(value);
    if (!type || value != dtype_name(*type) || !can_dequantize(*type))
      fail(where, ": type '", value, "' is not a block type this build reads");
    const TensorView* t = f.find(name);
    if (!t) fail(where, ": the file has no tensor ", name);
    if (t->dtype != DType::U8 || t->shape.size() != 2)
      fail(where, ": tensor ", name, " is ", dtype_name(t->dtype), " ", t->shape_str(), ", expected U8 [rows, row_bytes]");
    const std::string& shape_text = md.at(other);
    const auto shape = parse_json_strict<nlohmann::json>(shape_text, f.path() + ": __metadata__ key '" + other + "'");
    if (!shape.is_array() || shape.size() != 2 || !shape[0].is_number_unsigned() || !shape[1].is_number_unsigned())
      fail(f.path(), ": __metadata__ key '", other, "' must be \"[rows, cols]\", got '", shape_text, "'");
    const int64_t rows = shape[0].get<int64_t>(), cols = shape[1].get<int64_t>();
    const int64_t bv = dtype_block_values(*type);
    if (rows != t->shape[0] || cols <= 0 || cols % bv != 0 ||
        dtype_row_bytes(*type, cols) != static_cast<size_t>(t->shape[1]))
      fail(where, ": ", value, " ", shape_text, " does not match tensor ", name, "'s U8 ", t->shape_str(), " (",
           dtype_block_bytes(*type), " bytes per ", bv, " values)");
    out.push_back(TensorView{name, *type, {rows, cols}, t->data, t->nbytes, t->file});
  }
  return out;
}

}  // namespace mla
