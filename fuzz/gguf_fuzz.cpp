// libFuzzer target for the GGUF reader and the metadata -> ModelConfig step: any input must either
// parse into views that lie inside the file, in whole blocks and without overlapping, or throw
// mla::Error; never crash, read out of bounds or hit undefined behaviour. The bytes go into an
// in-memory file (memfd) opened through /proc/self/fd, as in safetensors_fuzz.cpp, so the fuzzer runs
// the engine's code path: MappedFile + GgufFile(path). The first row of every accepted block-format
// tensor goes through its decoder and its int8 unpacker (any bytes are a valid block: no UB allowed).

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "formats/gguf.h"
#include "model/gguf_config.h"
#include "quants/dequantize.h"
#include "quants/int8_unpack.h"
#include "memfd_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz_input_path("gguf_fuzz", data, size);
  try {
    mla::GgufFile f(path);
    // Accepted: every view lies inside the file, holds the input's bytes at its offset, has the size
    // its shape and type give, and no two overlap.
    std::vector<std::pair<size_t, size_t>> ranges;
    for (const auto& t : f.tensors()) {
      if (f.find(t.name) != &t || t.shape.empty() || t.shape.size() > 4) std::abort();
      const int64_t cols = t.shape.back();
      if (cols % mla::dtype_block_values(t.dtype) != 0) std::abort();
      if (mla::dtype_row_bytes(t.dtype, cols) * static_cast<size_t>(t.numel() / cols) != t.nbytes) std::abort();
      const size_t off = f.file_offset(t);
      if (off > size || t.nbytes > size - off) std::abort();
      if (t.nbytes && std::memcmp(t.data, data + off, t.nbytes) != 0) std::abort();
      ranges.emplace_back(off, t.nbytes);
      if (mla::dtype_is_quantized(t.dtype) && cols <= (1 << 16)) {
        std::vector<float> row(static_cast<size_t>(cols));
        mla::dequantize_row(t.dtype, t.data, row.data(), cols);
        if (const mla::Int8Form* form = mla::int8_form(t.dtype)) {
          uint8_t u[32];
          float d[2], m[2];
          form->unpack(t.data, 0, u, d, m);
        }
      }
    }
    std::sort(ranges.begin(), ranges.end());
    for (size_t k = 1; k < ranges.size(); ++k)
      if (ranges[k].first < ranges[k - 1].first + ranges[k - 1].second) std::abort();
    (void)mla::gguf_config(f);
  } catch (const mla::Error&) {
    // Rejected: fine.
  }
  return 0;
}
