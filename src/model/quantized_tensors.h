// How `mla quantize` stores GGUF block-format tensors in safetensors, which has no such dtypes:
// each as dtype "U8" with shape [rows, row_bytes] (the blocks exactly as in memory), explained by
// the file's `__metadata__`:
//   "mla.quant_format": "1"                        version of this convention
//   "mla.qtype.<tensor name>": "Q8_0" | "Q4_K" ...  the real type: any block type (dtype_name)
//   "mla.qshape.<tensor name>": "[rows, cols]"     the logical shape (cols values per row)
// Loading maps such a tensor back to TensorView{type, [rows, cols]} over the same bytes (an
// mmap, no requantization). A U8 tensor the metadata does not explain is never bound as a weight.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "formats/safetensors.h"

namespace mla {

inline constexpr const char* kQuantFormatKey = "mla.quant_format";
inline constexpr const char* kQuantFormatVersion = "1";

// Metadata entries describing quantized tensor `name` of `type`, [rows x cols].
void add_quant_metadata(std::map<std::string, std::string>& metadata, const std::string& name, DType type,
                        int64_t rows, int64_t cols);

// The block-format views of the U8 tensors `f`'s metadata explains; throws mla::Error naming the
// file and key when the metadata is malformed, names a missing tensor or disagrees with its bytes.
std::vector<TensorView> quantized_views(const SafetensorsFile& f);

}  // namespace mla
