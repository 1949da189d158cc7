#include "formats/gguf_writer.h"

#include <cstdio>
#include <filesystem>
#include <memory>

#include "core/error.h"

namespace mla {

namespace {

constexpr uint64_t kAlignment = 32;

class Out {
 public:
  explicit Out(const std::string& path) : path_(path), f_(std::fopen(path.c_str(), "wb"), std::fclose) {
    if (!f_) fail(path, ": cannot open for writing");
  }
  void bytes(const void* p, size_t n) {
    if (n && std::fwrite(p, 1, n, f_.get()) != n) fail(path_, ": write failed (disk full?)");
    pos_ += n;
  }
  template <class T>
  void pod(T v) {
    bytes(&v, sizeof v);
  }
  void string(const std::string& s) {
    pod<uint64_t>(s.size());
    bytes(s.data(), s.size());
  }
  void pad() {
    static const uint8_t zeros[kAlignment] = {};
    bytes(zeros, (kAlignment - pos_ % kAlignment) % kAlignment);
  }
  void close() {
    if (std::fclose(f_.release()) != 0) fail(path_, ": write failed on close");
  }
  uint64_t pos() const { return pos_; }

 private:
  std::string path_;
  std::unique_ptr<FILE, int (*)(FILE*)> f_;
  uint64_t pos_ = 0;
};

void write_value(Out& out, const GgufValue& v) {
  switch (v.type) {
    case GgufType::U8: out.pod<uint8_t>(v.u); break;
    case GgufType::I8: out.pod<int8_t>(v.i); break;
    case GgufType::U16: out.pod<uint16_t>(v.u); break;
    case GgufType::I16: out.pod<int16_t>(v.i); break;
    case GgufType::U32: out.pod<uint32_t>(v.u); break;
    case GgufType::I32: out.pod<int32_t>(v.i); break;
    case GgufType::U64: out.pod<uint64_t>(v.u); break;
    case GgufType::I64: out.pod<int64_t>(v.i); break;
    case GgufType::F32: out.pod<float>(static_cast<float>(v.f)); break;
    case GgufType::F64: out.pod<double>(v.f); break;
    case GgufType::BOOL: out.pod<uint8_t>(v.u ? 1 : 0); break;
    case GgufType::STRING: out.string(v.s); break;
    case GgufType::ARRAY:
      out.pod<uint32_t>(static_cast<uint32_t>(v.elem));
      out.pod<uint64_t>(v.arr.size());
      for (const GgufValue& e : v.arr) write_value(out, e);
      break;
  }
}

GgufValue scalar(GgufType t) {
  GgufValue v;
  v.type = t;
  return v;
}

}  // namespace

void GgufWriter::add(const std::string& key, GgufValue v) {
  for (const auto& [k, old] : kv_)
    if (k == key) fail("GGUF writer: metadata key '", key, "' added twice");
  kv_.emplace_back(key, std::move(v));
}

void GgufWriter::add_u32(const std::string& key, uint32_t x) {
  GgufValue v = scalar(GgufType::U32);
  v.u = x;
  add(key, std::move(v));
}

void GgufWriter::add_i32(const std::string& key, int32_t x) {
  GgufValue v = scalar(GgufType::I32);
  v.i = x;
  add(key, std::move(v));
}

void GgufWriter::add_f32(const std::string& key, float x) {
  GgufValue v = scalar(GgufType::F32);
  v.f = x;
  add(key, std::move(v));
}

void GgufWriter::add_bool(const std::string& key, bool x) {
  GgufValue v = scalar(GgufType::BOOL);
  v.u = x;
  add(key, std::move(v));
}

void GgufWriter::add_string(const std::string& key, const std::string& x) {
  GgufValue v = scalar(GgufType::STRING);
  v.s = x;
  add(key, std::move(v));
}

void GgufWriter::add_strings(const std::string& key, const std::vector<std::string>& xs) {
  GgufValue v = scalar(GgufType::ARRAY);
  v.elem = GgufType::STRING;
  for (const std::string& x : xs) {
    v.arr.push_back(scalar(GgufType::STRING));
    v.arr.back().s = x;
  }
  add(key, std::move(v));
}

void GgufWriter::add_i32s(const std::string& key, const std::vector<int32_t>& xs) {
  GgufValue v = scalar(GgufType::ARRAY);
  v.elem = GgufType::I32;
  for (int32_t x : xs) {
    v.arr.push_back(scalar(GgufType::I32));
    v.arr.back().i = x;
  }
  add(key, std::move(v));
}

void GgufWriter::add_tensor(const std::string& name, DType dtype, const std::vector<int64_t>& shape,
                            Producer produce) {
  if (shape.empty() || shape.size() > 4) fail("GGUF writer: tensor ", name, " has ", shape.size(), " dimensions");
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < shape.size(); ++d) rows *= shape[d];
  if (shape.back() % dtype_block_values(dtype) != 0)
    fail("GGUF writer: tensor ", name, " rows of ", shape.back(), " values are not whole ", dtype_name(dtype), " blocks");
  tensors_.push_back({name, dtype, shape, dtype_row_bytes(dtype, shape.back()) * static_cast<uint64_t>(rows),
                      std::move(produce)});
}

void GgufWriter::write(const std::string& path) const {
  const std::string tmp = path + ".partial";
  {
    Out out(tmp);
    out.bytes("GGUF", 4);
    out.pod<uint32_t>(3);
    out.pod<uint64_t>(tensors_.size());
    out.pod<uint64_t>(kv_.size());
    for (const auto& [key, v] : kv_) {
      out.string(key);
      out.pod<uint32_t>(static_cast<uint32_t>(v.type));
      write_value(out, v);
    }
    uint64_t offset = 0;
    for (const Tensor& t : tensors_) {
      out.string(t.name);
      out.pod<uint32_t>(static_cast<uint32_t>(t.shape.size()));
      for (size_t d = t.shape.size(); d-- > 0;) out.pod<uint64_t>(static_cast<uint64_t>(t.shape[d]));
      out.pod<uint32_t>(ggml_type_of(t.dtype));
      out.pod<uint64_t>(offset);
      offset += (t.nbytes + kAlignment - 1) / kAlignment * kAlignment;
    }
    out.pad();
    for (const Tensor& t : tensors_) {
      const uint64_t start = out.pos();
      t.produce([&](const uint8_t* p, size_t n) { out.bytes(p, n); });
      if (out.pos() - start != t.nbytes)
        fail("GGUF writer: tensor ", t.name, " produced ", out.pos() - start, " bytes, expected ", t.nbytes);
      out.pad();
    }
    out.close();
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) fail(path, ": cannot rename ", tmp, " into place: ", ec.message());
}

}  // namespace mla
