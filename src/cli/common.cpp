#include "common.h"

#include "tensor/quantize.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "dist/expert_split.h"
#include "dist/mpi.h"
#include "dist/pipeline.h"
#include "formats/gguf.h"
#include "model/checkpoint.h"
#include "tensor/quantize.h"
#include "tokenizer/gguf_vocab.h"

namespace mla::cli {

void add_model_flags(CLI::App* cmd, ModelFlags& f) {
  cmd->add_option("-m,--model", f.dir, "Hugging Face model directory (config.json + safetensors) or GGUF file")->required();
  cmd->add_option("-t,--threads", f.threads, "worker threads (default: physical cores)")->check(CLI::Range(1, 1024));
  cmd->add_option("--attn", f.attn, "MLA attention path: naive | absorbed | auto (per phase, the cheaper)")
      ->check(CLI::IsMember({"naive", "absorbed", "auto"}));
  add_quant_flag(cmd, f.quant);
}

void add_quant_flag(CLI::App* cmd, std::string& quant) {
  cmd->add_option("--quant", quant,
                   "quantize linear weights at load to one GGUF block type: q8_0, q4_0, q4_k, q6_k, iq4_xs, ...");
}

std::optional<DType> parse_quant(const std::string& quant) {
  if (quant.empty()) return std::nullopt;
  if (auto t = quant_type_from_name(quant); t && can_quantize(*t)) return t;
  std::string names;
  for (int i = 0; i <= static_cast<int>(DType::IQ1_M); ++i)
    if (can_quantize(static_cast<DType>(i))) names += (names.empty() ? "" : ", ") + std::string(dtype_name(static_cast<DType>(i)));
  fail("--quant: '", quant, "' is not a block type with a quantizer (", names, ")");
}

namespace {

LoadProgress progress_bar() {
  return [tty = static_cast<bool>(::isatty(STDERR_FILENO)), last = -1](size_t done, size_t total) mutable {
    if (!tty || total == 0) return;
    const int pct = static_cast<int>(100.0 * done / total);
    if (pct == last) return;
    last = pct;
    const int width = 30, filled = pct * width / 100;
    std::fprintf(stderr, "\rloading [%s%s] %3d%% %s / %s", std::string(filled, '#').c_str(),
                 std::string(width - filled, ' ').c_str(), pct, human_bytes(done).c_str(), human_bytes(total).c_str());
    if (done == total) std::fprintf(stderr, "\n");
  };
}

}  // namespace

void require_one_process(const std::string& what) {
  if (dist::world().size > 1)
    fail(what, " does not run across MPI ranks (generate, eval, chat, serve and bench --model do; "
         "docs/DISTRIBUTED.md): run it without mpirun");
}

std::unique_ptr<Model> open_model(const std::string& dir, ThreadPool& pool, std::optional<DType> convert) {
  require_one_process("this command");
  return load_model(dir, pool, LoadOptions{progress_bar(), convert, std::nullopt});
}

void add_split_flag(CLI::App* cmd, ModelFlags& f) {
  cmd->add_option("--split", f.split,
                  "under mpirun: layers (a pipeline, the default) | experts (MoE routed experts over the ranks)")
      ->check(CLI::IsMember({"layers", "experts"}));
  cmd->add_option("--split-layers", f.split_layers,
                  "under mpirun: the layers of each rank, e.g. 0-13,14-26 (default: balance weight bytes)");
  cmd->add_option("--micro-batches", f.micro_batches,
                  "under mpirun, --split layers: split each batched decode step into up to M groups in flight at once, "
                  "so that the ranks compute together (default 1: off; docs/DISTRIBUTED.md says when it pays)")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
}

std::unique_ptr<Model> open_model_split(const ModelFlags& f, ThreadPool& pool) {
  LoadOptions opts{progress_bar(), parse_quant(f.quant), std::nullopt};
  if (f.split == "experts") {
    if (!f.split_layers.empty()) fail("--split-layers goes with --split layers, not --split experts");
    if (f.micro_batches != 0) fail("--micro-batches goes with --split layers, not --split experts");
    return dist::open_expert_split(f.dir, pool, opts);
  }
  if (dist::world().size > 1 || !f.split_layers.empty() || f.micro_batches != 0)
    return dist::open_pipeline(f.dir, pool, opts, f.split_layers, f.micro_batches);
  return load_model(f.dir, pool, opts);
}

StoredWeights stored_weights(const std::string& model) {
  StoredWeights w;
  if (is_gguf_file(model)) {
    const GgufFile f(model);
    for (const TensorView& t : f.tensors()) w.bytes_by_dtype[dtype_name(t.dtype)] += t.nbytes;
    return w;
  }
  const Checkpoint ck(model);
  for (const auto& name : ck.names()) w.bytes_by_dtype[dtype_name(ck.get(name).dtype)] += ck.get(name).nbytes;
  w.n_files = ck.num_files();
  w.format = "safetensors";
  return w;
}

std::unique_ptr<Tokenizer> open_tokenizer(const std::string& model, bool required) {
  if (is_gguf_file(model)) {
    const GgufFile f(model);
    if (!required && !f.has("tokenizer.ggml.tokens")) return nullptr;
    return tokenizer_from_gguf(f);
  }
  const std::string path = model + "/tokenizer.json";
  if (!required && !std::ifstream(path)) return nullptr;
  return Tokenizer::load(path);
}

ChatTemplate open_chat_template(const std::string& model, const Tokenizer& tok, std::optional<ChatFamily> force) {
  if (!is_gguf_file(model)) return ChatTemplate::from_tokenizer_config(model + "/tokenizer_config.json", force);
  const GgufFile f(model);
  auto token = [&](const char* key) {
    return f.has(key) ? tok.token_bytes(static_cast<int32_t>(f.get_uint(key))) : std::string();
  };
  return ChatTemplate::from_template_text(f.get_string("tokenizer.chat_template", ""), token("tokenizer.ggml.bos_token_id"),
                                          token("tokenizer.ggml.eos_token_id"), model + ": tokenizer.chat_template", force);
}

std::vector<DType> parse_weight_formats(const std::string& list, const std::string& flag) {
  std::vector<DType> out;
  std::stringstream in(list);
  std::string f;
  while (std::getline(in, f, ',')) {
    if (f.empty()) continue;
    std::string up = f;
    for (char& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::optional<DType> t = quant_type_from_name(f);
    if (!t) t = dtype_from_name(up);
    if (!t || *t == DType::F8_E4M3 || *t == DType::U8) fail(flag, ": '", f, "' is not bf16, f16, f32 or a block format (q8_0, q4_0, q4_k, iq4_xs, ...)");
    out.push_back(*t);
  }
  return out;
}

std::vector<int32_t> parse_token_list(const std::string& text, const std::string& what) {
  std::vector<int32_t> ids;
  std::string s = text;
  for (char& c : s)
    if (c == ',') c = ' ';
  std::istringstream in(s);
  std::string word;
  while (in >> word) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != word.size() || v < 0 || v > INT32_MAX) fail(what, ": '", word, "' is not a token id");
    ids.push_back(static_cast<int32_t>(v));
  }
  if (ids.empty()) fail(what, ": no token ids");
  return ids;
}

std::vector<int32_t> read_token_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_token_list(ss.str(), path);
}

void check_token_ids(const std::vector<int32_t>& ids, int64_t vocab_size, const std::string& what) {
  for (int32_t id : ids)
    if (id >= vocab_size) fail(what, ": token id ", id, " is out of range for vocab size ", vocab_size);
}

CLI::Option* add_kv_type_flag(CLI::App* cmd, std::string& kv_type, const std::string& help) {
  for (const char* old : {"--kv-dtype", "--dtype"})
    cmd->add_option_function<std::string>(old, [old](const std::string&) {
         fail(old, " was renamed: the cache format is --kv-type f32|bf16|f16|fp8|q8_0 (default ", kDefaultKvType,
              ") on every command");
       })
        ->group("");  // hidden from --help
  return cmd->add_option("--kv-type", kv_type, help);
}

kv::CacheDtype parse_kv_type(const std::string& kv_type) { return kv::parse_cache_dtype(kv_type, "--kv-type"); }

std::string grouped(uint64_t v) {
  std::string d = std::to_string(v), r;
  for (size_t i = 0; i < d.size(); ++i) {
    if (i && (d.size() - i) % 3 == 0) r += ',';
    r += d[i];
  }
  return r;
}

std::string describe_kv_cache(const KvCache& cache, const ModelConfig& cfg) {
  const uint64_t stored = cache.bytes_per_token();
  std::string s = str(grouped(stored), " B/token in ", kv::cache_dtype_name(cache.dtype()), " (", cache.n_layers(),
                      " layers x ", grouped(static_cast<uint64_t>(cache.row_width())), " values");
  try {
    const kv::KvShape shape = kv::shape_from_config(cfg);
    const uint64_t mha = kv::mha_bytes(shape, cache.dtype()).per_token;
    char ratio[32];
    std::snprintf(ratio, sizeof ratio, "%.1fx", static_cast<double>(mha) / static_cast<double>(stored));
    s += str("; its MHA equivalent caches ", grouped(mha), " B/token, ", ratio, " as much");
  } catch (const Error&) {
    // A config the accounting does not know: the stored bytes alone.
  }
  return s + ")";
}

void add_sampling_flags(CLI::App* cmd, GenerateOptions& o) {
  cmd->add_option("-n,--max-tokens", o.max_tokens, "tokens to generate")->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  cmd->add_option("--temperature,--temp", o.sampling.temperature, "0 = greedy");
  cmd->add_option("--top-k", o.sampling.top_k, "keep the k most likely tokens (0 = off)");
  cmd->add_option("--top-p", o.sampling.top_p, "nucleus sampling (1 = off)");
  cmd->add_option("--min-p", o.sampling.min_p, "drop tokens below min-p x the top probability (0 = off)");
  cmd->add_option("--repetition-penalty,--repeat-penalty", o.sampling.repetition_penalty, "1 = off");
  cmd->add_option("--seed", o.sampling.seed, "RNG seed (same seed, same tokens)");
  cmd->add_option("--stop", o.stop, "stop before this string (repeatable)");
  cmd->add_flag("--ignore-eos", o.ignore_eos, "keep generating past the end-of-sequence token");
}

size_t peak_rss_bytes() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<size_t>(ru.ru_maxrss) * 1024;
}

}  // namespace mla::cli
