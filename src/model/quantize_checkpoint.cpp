#include "model/quantize_checkpoint.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "core/error.h"
#include "formats/safetensors_writer.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "model/converted_weights.h"
#include "model/quantized_tensors.h"

namespace mla {
namespace {

namespace fs = std::filesystem;

// Alignment of what a kernel reads from a tensor (4 for F32, 2 for 16-bit types and blocks, which
// start with an f16): writing the most aligned first keeps every tensor aligned in the file.
size_t read_alignment(DType t) { return dtype_is_quantized(t) ? 2 : dtype_size(t); }

}  // namespace

QuantizeStats quantize_checkpoint(const std::string& dir, const QuantChoice& choice, const std::string& out_dir,
                                  ThreadPool& pool) {
  const Checkpoint ck(dir);
  const QuantModelShape shape = quant_model_shape(load_config(dir + "/config.json"));
  std::error_code ec;
  if (fs::exists(out_dir, ec) && fs::equivalent(dir, out_dir, ec)) fail(out_dir, ": is the source directory");
  fs::create_directories(out_dir, ec);
  if (ec) fail(out_dir, ": cannot create directory: ", ec.message());

  // What each source tensor becomes: quantized (type), as stored, or dropped (fp8 scales of quantized weights).
  struct Plan {
    const TensorView* src;
    DType dtype;  // in memory: the chosen block type, or the stored dtype
  };
  std::vector<Plan> plans;
  std::set<std::string> dropped;
  for (const std::string& name : ck.names()) {
    const TensorView& t = ck.get(name);
    const std::optional<DType> type =
        is_convertible_weight(t) ? choose_weight_type(choice, shape, name, t.shape[1]) : std::nullopt;
    if (type) {
      plans.push_back({&t, *type});
      if (t.dtype == DType::F8_E4M3) dropped.insert(name + "_scale_inv");
    } else {
      plans.push_back({&t, t.dtype});
    }
  }
  std::erase_if(plans, [&](const Plan& p) { return dropped.count(p.src->name) != 0; });
  std::stable_sort(plans.begin(), plans.end(),
                   [](const Plan& a, const Plan& b) { return read_alignment(a.dtype) > read_alignment(b.dtype); });

  QuantizeStats stats;
  std::vector<TensorToWrite> entries;
  std::map<std::string, std::string> metadata;
  for (const Plan& p : plans) {
    const TensorView& t = *p.src;
    if (dtype_is_quantized(p.dtype)) {  // newly quantized, or already quantized in the source
      const int64_t rows = t.shape[0], cols = t.shape[1];
      entries.push_back({t.name, DType::U8, {rows, static_cast<int64_t>(dtype_row_bytes(p.dtype, cols))}});
      add_quant_metadata(metadata, t.name, p.dtype, rows, cols);
      stats.quantized += p.dtype != t.dtype;
    } else {
      entries.push_back({t.name, t.dtype, t.shape});
    }
    stats.bytes_in += t.nbytes;
  }
  write_safetensors((fs::path(out_dir) / "model.safetensors").string(), entries, metadata,
                    [&](size_t i, std::vector<uint8_t>& out) {
                      const Plan& p = plans[i];
                      const TensorView& t = *p.src;
                      if (p.dtype == t.dtype) {
                        std::memcpy(out.data(), t.data, t.nbytes);
                      } else {
                        const float* scale_inv = t.dtype == DType::F8_E4M3
                                                     ? fp8_block_scales(ck, t.name, t.shape[0], t.shape[1])
                                                     : nullptr;
                        convert_matrix(t, scale_inv, p.dtype, out.data(), pool);
                      }
                      stats.bytes_out += out.size();
                    });
  stats.tensors = entries.size();

  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string fname = entry.path().filename().string();
    if (!entry.is_regular_file() || fname.ends_with(".safetensors") || fname == "model.safetensors.index.json") continue;
    fs::copy_file(entry.path(), fs::path(out_dir) / fname, fs::copy_options::overwrite_existing, ec);
    if (ec) fail(out_dir, ": cannot copy ", fname, ": ", ec.message());
  }
  return stats;
}

}  // namespace mla
