// `mla quantize`: a Hugging Face model directory -> a copy whose linear weights are in block
// formats: one type, or a preset's per-tensor mix as llama-quantize picks it (model/quant_presets.h;
// model/converted_weights.h says which tensors; model/quantized_tensors.h how they are stored),
// so loading it is an mmap with no quantization work.
#pragma once
#include <cstddef>
#include <string>

#include "core/thread_pool.h"
#include "model/quant_presets.h"

namespace mla {

struct QuantizeStats {
  size_t tensors = 0, quantized = 0;  // tensors written, of which quantized
  size_t bytes_in = 0, bytes_out = 0;  // tensor bytes read from the source / written
};

// Writes `out_dir`/model.safetensors (one file) and copies every other file of `dir` (config.json,
// tokenizer files...) except its safetensors files and index. fp8 block scales of quantized weights
// are dropped (folded into the blocks). Throws mla::Error on bad input or I/O errors.
QuantizeStats quantize_checkpoint(const std::string& dir, const QuantChoice& choice, const std::string& out_dir,
                                  ThreadPool& pool);

}  // namespace mla
