// mla quantize: write a block-format copy of a checkpoint (a llama-quantize preset such as q4_k_m,
// or one type; loading it is an mmap, no requantization), or with --report, measure each preset's
// and format's bits per weight and logit error against the weights as stored over a fixed token
// sequence (docs/QUANTIZATION.md).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>

#include <nlohmann/json.hpp>

#include "bench/logit_error.h"
#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "model/checkpoint.h"
#include "model/converted_weights.h"
#include "model/quant_presets.h"
#include "model/quantize_checkpoint.h"

namespace mla::cli {
namespace {

struct Opts {
  ModelFlags model;
  std::string type, out, tokens, json;
  bool report = false;
  int64_t n_tokens = 64;
};

// What a report row converts the weights to: an element type (F32 / F16 / BF16) or a QuantChoice.
struct Variant {
  std::string name;
  LoadOptions load;
};

// The logits of every position of `ids` with the model's weights loaded as `load` says.
std::vector<float> run_logits(const Opts& o, ThreadPool& pool, const LoadOptions& load, const std::vector<int32_t>& ids) {
  auto model = load_model(o.model.dir, pool, load);
  check_token_ids(ids, model->config().vocab_size, "--tokens");
  KvCache cache = model->make_cache(static_cast<int64_t>(ids.size()));
  std::vector<float> logits(ids.size() * model->config().vocab_size);
  model->forward(ids, cache, parse_attn_mode(o.model.attn), true, logits.data());
  return logits;
}

std::vector<std::string> split_names(const std::string& list) {  // "a, b, c"
  std::vector<std::string> out;
  for (size_t i = 0; i < list.size();) {
    const size_t e = std::min(list.find(", ", i), list.size());
    out.push_back(list.substr(i, e - i));
    i = e + 2;
  }
  return out;
}

// Bits per weight of the convertible weights (those a conversion touches; model/converted_weights.h)
// under `v`, weights it keeps counted at their stored size.
double bits_per_weight(const Checkpoint& ck, const QuantModelShape& shape, const Variant& v) {
  double bits = 0, n = 0;
  for (const std::string& name : ck.names()) {
    const TensorView& t = ck.get(name);
    if (!is_convertible_weight(t)) continue;
    std::optional<DType> d;
    if (v.load.convert_mix) d = choose_weight_type(*v.load.convert_mix, shape, name, t.shape[1]);
    else if (converts_to(t, *v.load.convert)) d = v.load.convert;
    const double cols = static_cast<double>(t.shape[1]), rows = static_cast<double>(t.shape[0]);
    bits += 8.0 * (d ? static_cast<double>(dtype_row_bytes(*d, t.shape[1])) * rows : static_cast<double>(t.nbytes));
    n += rows * cols;
  }
  return n > 0 ? bits / n : 0;
}

void report(const Opts& o) {
  ThreadPool pool(o.model.threads);
  // The reference is the checkpoint as stored; its dtype is that of the output projection.
  const Checkpoint ck(o.model.dir);
  const std::string head = ck.has("lm_head.weight") ? "lm_head.weight" : "model.embed_tokens.weight";
  const DType stored = ck.get(head).dtype;
  const ModelConfig cfg = load_config(o.model.dir + "/config.json");
  std::vector<int32_t> ids;
  if (!o.tokens.empty()) {
    ids = parse_token_list(o.tokens, "--tokens");
  } else {  // a fixed pseudo-random sequence: the same on every run and machine
    std::mt19937 rng(20240501);
    for (int64_t i = 0; i < o.n_tokens; ++i) ids.push_back(static_cast<int32_t>(rng() % cfg.vocab_size));
  }
  const int64_t T = static_cast<int64_t>(ids.size()), V = cfg.vocab_size;
  const std::vector<float> ref = run_logits(o, pool, LoadOptions{}, ids);

  std::vector<Variant> variants;
  for (DType t : {DType::F32, DType::F16, DType::BF16})
    if (t != stored) variants.push_back({dtype_name(t), LoadOptions{{}, t, std::nullopt}});
  for (const std::string& name : split_names(quant_choice_names()))
    variants.push_back({name, LoadOptions{{}, std::nullopt, parse_quant_choice(name)}});

  nlohmann::ordered_json j = {{"model", o.model.dir}, {"reference", dtype_name(stored)}, {"tokens", T},
                              {"formats", nlohmann::ordered_json::array()}};
  std::printf("logit error against the weights as stored (%s), %lld positions x %lld vocab\n", dtype_name(stored),
              static_cast<long long>(T), static_cast<long long>(V));
  std::printf("%-8s %6s %14s %14s %12s %16s\n", "format", "bpw", "max |dlogit|", "rms d / rms", "top-1 agree",
              "mean KL(ref||x)");
  const QuantModelShape shape = quant_model_shape(cfg);
  for (const Variant& v : variants) {
    const double bpw = bits_per_weight(ck, shape, v);
    const std::vector<float> x = run_logits(o, pool, v.load, ids);
    const bench::LogitError e = bench::compare_logits(ref.data(), x.data(), T, V);
    std::printf("%-8s %6.2f %14.4g %14.4g %11.2f%% %16.4g\n", v.name.c_str(), bpw, e.max_abs, e.rel_rms,
                100 * e.top1_agree, e.mean_kl);
    j["formats"].push_back({{"format", v.name}, {"bpw", bpw}, {"max_abs", e.max_abs}, {"rel_rms", e.rel_rms},
                            {"top1_agree", e.top1_agree}, {"mean_kl", e.mean_kl}});
  }
  if (!o.json.empty()) {
    std::ofstream f(o.json);
    f << j.dump(2) << "\n";
    if (!f) fail(o.json, ": cannot write");
  }
}

}  // namespace

void register_quantize(CLI::App& app) {
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand(
      "quantize", "write a quantized copy of a checkpoint (llama-quantize presets), or --report each one's size and logit error");
  cmd->add_option("-m,--model", o->model.dir, "Hugging Face model directory")->required();
  cmd->add_option("-t,--threads", o->model.threads, "worker threads (default: physical cores)")->check(CLI::Range(1, 1024));
  cmd->add_option("--type", o->type, "a llama-quantize preset (" + quant_preset_names() + ") or one block type for every matrix");
  cmd->add_option("-o,--out", o->out, "output model directory (config and tokenizer files are copied)");
  cmd->add_flag("--report", o->report, "print bits per weight, max |dlogit|, relative RMS, top-1 agreement and KL of "
                                       "F32, F16, BF16 and every preset and block type against the weights as stored");
  cmd->add_option("--tokens", o->tokens, "report: comma-separated token ids (default: a fixed random sequence)");
  cmd->add_option("--n-tokens", o->n_tokens, "report: length of the default sequence")->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--json", o->json, "report: also write the numbers as JSON");
  cmd->add_option("--attn", o->model.attn, "MLA attention path: naive | absorbed | auto")
      ->check(CLI::IsMember({"naive", "absorbed", "auto"}));
  cmd->callback([o] {
    if (o->report) {
      if (!o->type.empty() || !o->out.empty()) fail("quantize: --report takes no --type or --out");
      report(*o);
      return;
    }
    if (o->type.empty() || o->out.empty()) fail("quantize: give --type TYPE and --out DIR (or --report)");
    const std::optional<QuantChoice> choice = parse_quant_choice(o->type);
    if (!choice) fail("quantize: --type '", o->type, "' is not one of ", quant_choice_names());
    ThreadPool pool(o->model.threads);
    const auto t0 = std::chrono::steady_clock::now();
    const QuantizeStats s = quantize_checkpoint(o->model.dir, *choice, o->out, pool);
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s: %zu tensors (%zu quantized to %s), %s -> %s in %.1f s\n", o->out.c_str(), s.tensors, s.quantized,
                quant_choice_name(*choice).c_str(), human_bytes(s.bytes_in).c_str(), human_bytes(s.bytes_out).c_str(),
                sec);
  });
}

}  // namespace mla::cli
