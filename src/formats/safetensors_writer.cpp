#include "formats/safetensors_writer.h"

#include <cstdio>
#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace mla {

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata, const TensorProducer& produce) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<size_t> sizes;
  size_t offset = 0;
  for (const TensorToWrite& t : tensors) {
    if (dtype_is_quantized(t.dtype)) fail(path, ": tensor ", t.name, ": block formats are written as U8 bytes");
    size_t n = dtype_size(t.dtype);
    for (int64_t d : t.shape) n *= static_cast<size_t>(d);
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + n}}};
    sizes.push_back(n);
    offset += n;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');

  const std::string tmp = path + ".tmp";
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(tmp.c_str(), "wb"), std::fclose);
  if (!f) fail(tmp, ": cannot open for writing");
  auto put = [&](const void* p, size_t n) {
    if (n != 0 && std::fwrite(p, 1, n, f.get()) != n) fail(tmp, ": write failed (disk full?)");
  };
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>((text.size() >> (8 * i)) & 0xff);  // little-endian u64
  put(len, 8);
  put(text.data(), text.size());
  std::vector<uint8_t> buf;
  for (size_t i = 0; i < tensors.size(); ++i) {
    buf.assign(sizes[i], 0);
    produce(i, buf);
    if (buf.size() != sizes[i])
      fail(path, ": tensor ", tensors[i].name, " produced ", buf.size(), " bytes, expected ", sizes[i]);
    put(buf.data(), buf.size());
  }
  if (std::fflush(f.get()) != 0) fail(tmp, ": write failed (disk full?)");
  f.reset();
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) fail(tmp, ": cannot rename to ", path, ": ", ec.message());
}

}  // namespace mla
