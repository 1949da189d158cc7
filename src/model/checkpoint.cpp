// A Hugging Face checkpoint directory. Like transformers' `from_pretrained`, a single
// `model.safetensors` is preferred when present; otherwise `model.safetensors.index.json` lists the
// shards ({"metadata": {...}, "weight_map": {tensor: shard file}}).
#include "model/checkpoint.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/error.h"
#include "formats/json_strict.h"
#include "model/quantized_tensors.h"

namespace mla {

namespace {

namespace fs = std::filesystem;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail(path, ": read error");
  return ss.str();
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace

Checkpoint::Checkpoint(const std::string& dir) : dir_(dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) fail(dir, ": model directory does not exist");
  if (!fs::is_directory(dir, ec)) fail(dir, ": not a directory");

  const std::string single = (fs::path(dir) / "model.safetensors").string();
  const std::string index_path = (fs::path(dir) / "model.safetensors.index.json").string();

  // Registers every tensor of a shard; a name in two shards is an error.
  auto add_file = [&](const std::string& path) -> SafetensorsFile& {
    files_.push_back(std::make_unique<SafetensorsFile>(path));
    SafetensorsFile& f = *files_.back();
    for (const TensorView& t : f.tensors()) {
      auto [it, inserted] = tensors_.emplace(t.name, &t);
      if (!inserted)
        fail(path, ": tensor ", t.name, " is also in ", *it->second->file, " (a tensor must be in one shard)");
    }
    // `mla quantize` output: U8 bytes that the metadata says are Q8_0 / Q4_0 blocks.
    for (TensorView& q : quantized_views(f)) {
      const TensorView& view = quantized_.emplace_back(std::move(q));
      tensors_[view.name] = &view;
    }
    return f;
  };

  if (fs::exists(single, ec)) {
    add_file(single);
    return;
  }
  if (!fs::exists(index_path, ec)) fail(dir, ": no model.safetensors or model.safetensors.index.json");

  const auto index = parse_json_strict<nlohmann::ordered_json>(read_text(index_path), index_path);
  if (!index.is_object()) fail(index_path, ": expected a JSON object");
  auto wm = index.find("weight_map");
  if (wm == index.end()) fail(index_path, ": missing key 'weight_map'");
  if (!wm->is_object()) fail(index_path, ": 'weight_map' must be an object {tensor: shard file}");
  if (wm->empty()) fail(index_path, ": 'weight_map' is empty");

  // Shards in order of first mention, each loaded once.
  std::vector<std::string> shard_names;
  std::set<std::string> seen;
  for (const auto& [tensor, shard] : wm->items()) {
    if (!shard.is_string())
      fail(index_path, ": weight_map entry for ", tensor, " must be a file name, got ", json_brief(shard));
    const std::string s = shard.get<std::string>();
    if (s.empty() || s == "." || s.find('/') != std::string::npos || s.find('\\') != std::string::npos ||
        s.find("..") != std::string::npos)
      fail(index_path, ": weight_map entry for ", tensor, " names shard '", s,
           "', which is not a plain file name in the model directory");
    if (seen.insert(s).second) shard_names.push_back(s);
  }
  std::map<std::string, const SafetensorsFile*> shards;
  for (const std::string& s : shard_names) {
    const std::string p = (fs::path(dir) / s).string();
    if (!fs::exists(p, ec)) fail(index_path, ": shard ", s, " is listed but ", p, " does not exist");
    shards[s] = &add_file(p);
  }
  for (const auto& [tensor, shard] : wm->items()) {
    const SafetensorsFile* f = shards.at(shard.get<std::string>());
    if (!f->find(tensor))
      fail(index_path, ": tensor ", tensor, " is listed in shard ", shard.get<std::string>(), " but ", f->path(),
           " does not contain it");
  }
}

bool Checkpoint::has(const std::string& name) const { return tensors_.count(name) != 0; }

const TensorView& Checkpoint::get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail(dir_, ": missing tensor ", name);
  return *it->second;
}

const TensorView& Checkpoint::get(const std::string& name, const std::vector<int64_t>& shape) const {
  const TensorView& t = get(name);
  if (t.dtype == DType::U8)
    fail(*t.file, ": tensor ", name, " is raw U8 bytes that no mla.qtype metadata explains; it cannot be a weight");
  if (t.shape != shape)
    fail(*t.file, ": tensor ", name, " has shape ", t.shape_str(), ", expected ", shape_str(shape));
  return t;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& [name, t] : tensors_) out.push_back(name);
  return out;
}

size_t Checkpoint::total_bytes() const {
  size_t n = 0;
  for (const auto& [name, t] : tensors_) n += t->nbytes;
  return n;
}

}  // namespace mla
