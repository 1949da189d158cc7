// The pages a model's weights lie in: its files' tensors, mapped once more. A second mapping of a
// file shares the page cache's physical pages with the loaded model's, so a read probe over these
// spans (bench/roofline.h) measures what reading the weights themselves can reach, which in a
// virtual machine need not be what a fresh buffer reads (how the host backs each region of RAM).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace mla::bench {

struct MappedWeightBytes {
  std::shared_ptr<const void> owner;            // keeps the mappings alive
  std::vector<std::span<const uint8_t>> spans;  // address order, merged across alignment padding
};

// A GGUF file or a Hugging Face directory (its safetensors shards); mla::Error as loading them.
MappedWeightBytes mapped_weight_bytes(const std::string& model);

}  // namespace mla::bench
