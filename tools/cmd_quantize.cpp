// mla quantize: write a Q8_0 / Q4_0 copy of a checkpoint (loading it is an mmap, no requantization),
// or with --report, measure each weight format's logit error against the weights as stored over a
// fixed token sequence (docs/QUANTIZATION.md).
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
#include "model/quantize_checkpoint.h"

namespace mla::cli {
namespace {

struct Opts {
  ModelFlags model;
  std::string type, out, tokens, json;
  bool report = false;
  int64_t n_tokens = 64;
};

// The logits of every position of `ids` with the model's weights converted to `convert` (unset: as stored).
std::vector<float> run_logits(const Opts& o, ThreadPool& pool, std::optional<DType> convert,
                              const std::vector<int32_t>& ids) {
  auto model = open_model(o.model.dir, pool, convert);
  check_token_ids(ids, model->config().vocab_size, "--tokens");
  KvCache cache = model->make_cache(static_cast<int64_t>(ids.size()));
  std::vector<float> logits(ids.size() * model->config().vocab_size);
  model->forward(ids, cache, parse_attn_mode(o.model.attn), true, logits.data());
  return logits;
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
  const std::vector<float> ref = run_logits(o, pool, std::nullopt, ids);

  nlohmann::ordered_json j = {{"model", o.model.dir}, {"reference", dtype_name(stored)}, {"tokens", T},
                              {"formats", nlohmann::ordered_json::array()}};
  std::printf("logit error against the weights as stored (%s), %lld positions x %lld vocab\n", dtype_name(stored),
              static_cast<long long>(T), static_cast<long long>(V));
  std::printf("%-8s %14s %14s %12s %16s\n", "format", "max |dlogit|", "rms d / rms", "top-1 agree", "mean KL(ref||x)");
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0}) {
    if (t == stored) continue;
    const std::vector<float> x = run_logits(o, pool, t, ids);
    const bench::LogitError e = bench::compare_logits(ref.data(), x.data(), T, V);
    std::printf("%-8s %14.4g %14.4g %11.2f%% %16.4g\n", dtype_name(t), e.max_abs, e.rel_rms, 100 * e.top1_agree,
                e.mean_kl);
    j["formats"].push_back({{"format", dtype_name(t)}, {"max_abs", e.max_abs}, {"rel_rms", e.rel_rms},
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
      "quantize", "write a Q8_0 / Q4_0 copy of a checkpoint, or --report each weight format's logit error");
  cmd->add_option("-m,--model", o->model.dir, "Hugging Face model directory")->required();
  cmd->add_option("-t,--threads", o->model.threads, "worker threads (default: physical cores)")->check(CLI::Range(1, 1024));
  cmd->add_option("--type", o->type, "q8_0 | q4_0")->check(CLI::IsMember({"q8_0", "q4_0"}));
  cmd->add_option("-o,--out", o->out, "output model directory (config and tokenizer files are copied)");
  cmd->add_flag("--report", o->report, "print max |dlogit|, relative RMS, top-1 agreement and KL of F32, F16, BF16, "
                                       "Q8_0 and Q4_0 weights against the weights as stored");
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
    if (o->type.empty() || o->out.empty()) fail("quantize: give --type q8_0|q4_0 and --out DIR (or --report)");
    ThreadPool pool(o->model.threads);
    const auto t0 = std::chrono::steady_clock::now();
    const QuantizeStats s = quantize_checkpoint(o->model.dir, *parse_quant(o->type), o->out, pool);
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s: %zu tensors (%zu quantized to %s), %s -> %s in %.1f s\n", o->out.c_str(), s.tensors, s.quantized,
                dtype_name(*parse_quant(o->type)), human_bytes(s.bytes_in).c_str(), human_bytes(s.bytes_out).c_str(),
                sec);
  });
}

}  // namespace mla::cli
