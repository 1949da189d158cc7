// libFuzzer target for the safetensors reader: any input must either parse into views that lie
// inside the file, or throw mla::Error; never crash, read out of bounds or hit undefined behaviour.
// The bytes go into an in-memory file (memfd) opened through /proc/self/fd, so the fuzzer runs the
// same code path as the engine: MappedFile + SafetensorsFile(path).

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/error.h"
#include "formats/safetensors.h"
#include "memfd_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz_input_path("safetensors_fuzz", data, size);
  try {
    mla::SafetensorsFile f(path);
    // Accepted: the views must tile the bytes after the header exactly, each holding the input's
    // bytes at its offset, and agree with their shapes.
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];
    const uint8_t* want = data + 8 + n;
    const size_t buffer_size = size - 8 - n;
    const uint8_t* base = nullptr;
    size_t total = 0;
    for (const auto& t : f.tensors())
      if (!base || t.data < base) base = t.data;
    for (const auto& t : f.tensors()) {
      if (static_cast<size_t>(t.numel()) * mla::dtype_size(t.dtype) != t.nbytes) std::abort();
      if (f.find(t.name) != &t) std::abort();
      const size_t off = static_cast<size_t>(t.data - base);
      if (off > buffer_size || t.nbytes > buffer_size - off) std::abort();
      if (t.nbytes && std::memcmp(t.data, want + off, t.nbytes) != 0) std::abort();
      total += t.nbytes;
    }
    if (total != buffer_size) std::abort();
  } catch (const mla::Error&) {
    // Rejected: fine.
  }
  return 0;
}
