// Pieces the subcommands share: loading a model with a progress bar, reading token lists, flags.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/human_bytes.h"
#include "core/thread_pool.h"
#include "engine/generate.h"
#include "kv/kv_accounting.h"
#include "model/model.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace mla::cli {

struct ModelFlags {
  std::string dir;
  int threads = ThreadPool::default_threads();
  std::string attn = "auto";
  std::string quant;  // "", "q8_0" or "q4_0"
  std::string split = "layers";  // under mpirun: "layers" (pipeline) or "experts" (docs/DISTRIBUTED.md)
  std::string split_layers;  // "--split-layers 0-13,14-26" (MPI pipeline); "" = balance weight bytes
  int64_t micro_batches = 0;  // "--micro-batches M" (MPI pipeline); 0 = not given: 1, off
};
void add_model_flags(CLI::App* cmd, ModelFlags& f);
// `--quant <block type>` (any with a quantizer: q8_0, q4_k, ...): quantize linear weights at load (model/converted_weights.h says which).
void add_quant_flag(CLI::App* cmd, std::string& quant);
// "" -> unset, "q8_0" -> Q8_0, "q4_0" -> Q4_0.
std::optional<DType> parse_quant(const std::string& quant);

// Loads the model, converting its weights when `convert` is set; a progress bar goes to stderr
// when it is a terminal.
std::unique_ptr<Model> open_model(const std::string& dir, ThreadPool& pool, std::optional<DType> convert = {});
// Refuses (mla::Error) under mpirun with more than one rank: `what` would run whole on every rank.
void require_one_process(const std::string& what);
// The same for commands that run split across MPI ranks (generate, eval, chat, serve, bench;
// docs/DISTRIBUTED.md): under mpirun with more than one rank (or with --split-layers) each rank
// loads its part (a pipeline stage, or its routed experts with --split experts), and every rank but
// 0 gets nullptr once rank 0 is done: the command then returns at once there. The plain open_model
// refuses to run under more than one rank.
std::unique_ptr<Model> open_model_split(const ModelFlags& f, ThreadPool& pool);
// `--split layers|experts`, `--split-layers` and `--micro-batches` for the commands that take them.
void add_split_flag(CLI::App* cmd, ModelFlags& f);

// What a model's files store: bytes per dtype name ("BF16" -> bytes), how many files and their format.
struct StoredWeights {
  std::map<std::string, size_t> bytes_by_dtype;
  size_t n_files = 1;
  const char* format = "GGUF";  // or "safetensors"
};
StoredWeights stored_weights(const std::string& model);

// The model's tokenizer: tokenizer.ggml.* of a GGUF file or DIR/tokenizer.json; nullptr when there is
// none and it is not `required`.
std::unique_ptr<Tokenizer> open_tokenizer(const std::string& model, bool required);

// The model's chat template: tokenizer.chat_template of a GGUF file (bos/eos spelled by `tok`) or
// DIR/tokenizer_config.json; `force` as in ChatTemplate.
ChatTemplate open_chat_template(const std::string& model, const Tokenizer& tok, std::optional<ChatFamily> force);

// "1,2,3" or whitespace/comma-separated ids in a file.
std::vector<int32_t> parse_token_list(const std::string& text, const std::string& what);
std::vector<int32_t> read_token_file(const std::string& path);
// Throws "<what>: token id X is out of range for vocab size V".
void check_token_ids(const std::vector<int32_t>& ids, int64_t vocab_size, const std::string& what);

// "bf16,q8_0,..." -> weight formats (bf16, f16, f32, q8_0, q4_0); `flag` names the option in errors.
std::vector<DType> parse_weight_formats(const std::string& list, const std::string& flag);

// The cache's element format has one flag on every command that keeps or sizes a cache (generate,
// chat, eval, bench, serve, kv): `--kv-type f32|bf16|f16|fp8|q8_0`, default bf16 (what `mla serve`
// has always kept: half the bytes of f32). The spellings it replaced, --kv-dtype and --dtype, are
// refused with a hint rather than silently ignored or taken.
inline constexpr const char* kDefaultKvType = "bf16";
CLI::Option* add_kv_type_flag(CLI::App* cmd, std::string& kv_type, const std::string& help);
kv::CacheDtype parse_kv_type(const std::string& kv_type);
// "2,304 B/token in bf16 (2 layers x 576 values; its MHA equivalent caches 16,384 B/token, 7.1x as
// much)": a cache's
// bytes per token as stored, next to the MHA equivalent of the model's shape (`mla kv` arithmetic).
std::string describe_kv_cache(const KvCache& cache, const ModelConfig& cfg);
// 70272 -> "70,272"
std::string grouped(uint64_t v);

// Sampling and stopping flags shared by generate and chat.
void add_sampling_flags(CLI::App* cmd, GenerateOptions& o);

size_t peak_rss_bytes();

}  // namespace mla::cli
