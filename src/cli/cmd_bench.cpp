// mla bench: MLA against MHA, GQA and MQA at matched shapes on this machine, with no download:
// synthetic models with deterministic random weights that differ only in attention. With --model,
// llama-bench for any model the engine loads (bench/model_bench.h).
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>

#include "bench/attention_roofline.h"
#include "bench/gemv_bench.h"
#include "bench/model_bench.h"
#include "bench/report.h"
#include "bench/weight_pages.h"
#include "dist/mpi.h"
#include "bench/runner.h"
#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "kv/kv_accounting.h"

namespace mla::cli {
namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

// Progress on stderr: one line rewritten in place on a terminal, a line each otherwise.
class StderrProgress {
 public:
  std::function<void(const std::string&)> callback() const {
    return [tty = tty_](const std::string& line) { std::fprintf(stderr, tty ? "\r\033[K%s" : "%s\n", line.c_str()); };
  }
  // Ends the rewritten line so what follows starts on its own.
  void end() const {
    if (tty_) std::fprintf(stderr, "\n");
  }

 private:
  bool tty_ = ::isatty(STDERR_FILENO);
};

// `mla bench --model`'s flags, spelled as llama-bench spells them.
struct ModelBenchFlags {
  std::string model, attn = "auto", split = "layers", split_layers;
  bench::ModelBenchOptions bench;
};

// Registered after the synthetic benchmark's options: --model excludes all of those but the ones
// both runs share (threads, quant, kv-type, json), and the new flags need --model.
void add_model_bench_flags(CLI::App* cmd, ModelBenchFlags& f) {
  const std::vector<CLI::Option*> synthetic = cmd->get_options([](const CLI::Option* opt) {
    const std::string name = opt->get_name();
    return name != "--help" && name != "--threads" && name != "--quant" && name != "--kv-type" && name != "--json" &&
           !opt->get_group().empty();  // hidden: the refused old spellings of --kv-type
  });
  CLI::Option* model = cmd->add_option("-m,--model", f.model,
                                       "llama-bench this model (Hugging Face directory or GGUF file) instead of the "
                                       "synthetic variants");
  for (CLI::Option* opt : synthetic) model->excludes(opt);
  cmd->add_option("-p,--n-prompt", f.bench.prompt_tokens, "with --model: prompt lengths to prefill (default 512)")
      ->delimiter(',')
      ->needs(model);
  cmd->add_option("-n,--n-gen", f.bench.decode_tokens, "with --model: tokens to decode, 0 to skip (default 64)")
      ->needs(model);
  cmd->add_option("-d,--n-depth", f.bench.depths, "with --model: cache depths before each test (default 0)")
      ->delimiter(',')
      ->needs(model);
  cmd->add_option("-r,--repetitions", f.bench.reps, "with --model: timed repetitions of each test (default 3)")
      ->needs(model);
  cmd->add_option("--attn", f.attn, "with --model: MLA attention path: naive | absorbed | auto (default)")
      ->check(CLI::IsMember({"naive", "absorbed", "auto"}))
      ->needs(model);
  cmd->add_option("--split", f.split, "with --model under mpirun: layers (a pipeline, the default) | experts")
      ->check(CLI::IsMember({"layers", "experts"}))
      ->needs(model);
  cmd->add_option("--split-layers", f.split_layers, "with --model under mpirun: the layers of each rank, e.g. 0-13,14-26")
      ->needs(model);
}

// "BF16, F32" as stored; "BF16, F32 -> Q8_0" when --quant converts the linear weights at load.
std::string weight_dtypes(const std::string& model, std::optional<DType> quant) {
  std::string s;
  for (const auto& [dtype, bytes] : stored_weights(model).bytes_by_dtype) s += (s.empty() ? "" : ", ") + dtype;
  return quant ? s + " -> " + dtype_name(*quant) : s;
}

void bench_model(const ModelBenchFlags& f, int threads, const std::string& quant, const std::string& kv_type,
                 const std::string& json) {
  bench::ModelBenchReport r;
  r.options = f.bench;
  r.options.attn = parse_attn_mode(f.attn);
  r.options.kv_type = parse_kv_type(kv_type);
  // Bad lengths fail before the model, possibly large, is loaded.
  bench::check_model_bench_options(r.options, load_model_config(f.model).max_position_embeddings);
  r.quant = parse_quant(quant);
  ThreadPool pool(threads);
  // Under mpirun the model is split (docs/DISTRIBUTED.md): rank 0 measures, the other ranks serve
  // their part until it is done.
  const std::unique_ptr<Model> model =
      open_model_split(ModelFlags{f.model, threads, f.attn, quant, f.split, f.split_layers}, pool);
  if (!model) return;
  const bool split = dist::world().size > 1;
  r.model = split ? f.model + " (" + std::to_string(dist::world().size) + " ranks, split by " + f.split + ")" : f.model;
  r.architecture = model->config().architecture;
  r.n_params = model->params().total;
  r.weights = weight_dtypes(f.model, r.quant);
  r.threads = pool.size();
  const StderrProgress progress;
  // Decode streams the weights: read probes (passes between the tg repetitions) say what share of
  // the read bandwidth a token's weight bytes reach: of a fresh 512 MiB buffer, and of the pages the
  // weights lie in (the model's files, unless --quant moved them into buffers of their own).
  // Split across ranks, this rank reads only part of a token's weights: no probe, no share.
  std::optional<bench::ReadProbe> probe, file_probe;
  bench::MappedWeightBytes files;
  if (r.options.decode_tokens > 0 && !split) {
    probe.emplace(pool, size_t{512} << 20);
    if (!r.quant) {
      files = bench::mapped_weight_bytes(f.model);
      file_probe.emplace(pool, files.spans);
    }
  }
  r.results = bench::run_model_bench(*model, r.options, progress.callback(), probe ? &*probe : nullptr,
                                     file_probe ? &*file_probe : nullptr);
  progress.end();
  std::printf("%s", bench::format_model_bench_table(r).c_str());
  if (!json.empty()) bench::write_model_bench_json(r, json);
}

}  // namespace

void register_bench(CLI::App& app) {
  struct Opts {
    bench::BenchOptions bench;
    std::string preset = "deepseek-v2-lite-attn", variants, contexts, json, csv, plot;
    std::string max_kv_mem = "8GiB", budget = "1GiB", quant, kv_type = kDefaultKvType;
    int threads = ThreadPool::default_threads();
    // Shape overrides (0: the preset's value).
    int64_t hidden = 0, heads = 0, layers = 0, ffn = 0, vocab = 0, head_dim = 0, gqa_kv_heads = 0, q_lora = -1,
            kv_lora = 0, rope = 0, nope = 0, v_head_dim = 0;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("bench", "MLA against MHA / GQA / MQA on this machine: speed, memory, rooflines");
  cmd->add_option("--preset", o->preset, "deepseek-v2-lite-attn | deepseek-v3-attn");
  cmd->add_option("--variants", o->variants, "comma-separated: mha,gqa,mqa,mla-naive,mla-absorbed,mla-auto");
  cmd->add_option("--contexts", o->contexts, "cache depths to decode at, e.g. 0,1024,4096");
  cmd->add_option("-t,--threads", o->threads, "worker threads (default: physical cores)")->check(CLI::Range(1, 1024));
  cmd->add_option("--prompt-tokens", o->bench.prompt_tokens, "prefill prompt length")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--min-seconds", o->bench.min_seconds, "time each decode measurement at least this long")->check(CLI::Range(0.0, 3600.0));
  cmd->add_option("--max-kv-mem", o->max_kv_mem, "skip contexts whose single-sequence cache needs more");
  cmd->add_option("--budget", o->budget, "KV memory budget for the equal-memory throughput run");
  cmd->add_option("--throughput-context", o->bench.throughput_context, "tokens per sequence in the throughput run")->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--max-batch", o->bench.max_batch, "cap on sequences in the throughput run")->check(CLI::Range(1, 1 << 16));
  cmd->add_flag("--throughput-naive", o->bench.throughput_naive, "also run naive MLA in the throughput run (slow)");
  cmd->add_option("--hidden", o->hidden, "shape override: hidden size")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--heads", o->heads, "shape override: attention heads")->check(CLI::Range(1, 1 << 12));
  cmd->add_option("--layers", o->layers, "shape override: layers")->check(CLI::Range(1, 1 << 12));
  cmd->add_option("--ffn", o->ffn, "shape override: dense MLP width")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--vocab", o->vocab, "shape override: vocabulary")->check(CLI::Range(2, 1 << 22));
  cmd->add_option("--head-dim", o->head_dim, "shape override: MHA/GQA/MQA head width")->check(CLI::Range(2, 1 << 12));
  cmd->add_option("--gqa-kv-heads", o->gqa_kv_heads, "shape override: GQA's K/V heads")->check(CLI::Range(1, 1 << 12));
  cmd->add_option("--q-lora", o->q_lora, "shape override: MLA q_lora_rank (0: none)")->check(CLI::Range(0, 1 << 16));
  cmd->add_option("--kv-lora", o->kv_lora, "shape override: MLA kv_lora_rank")->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--rope", o->rope, "shape override: MLA qk_rope_head_dim (even)")->check(CLI::Range(2, 1 << 12));
  cmd->add_option("--nope", o->nope, "shape override: MLA qk_nope_head_dim")->check(CLI::Range(1, 1 << 12));
  cmd->add_option("--v-head-dim", o->v_head_dim, "shape override: MLA v_head_dim")->check(CLI::Range(1, 1 << 12));
  add_quant_flag(cmd, o->quant);
  add_kv_type_flag(cmd, o->kv_type, "cache element format: f32 | bf16 (default) | f16 | fp8 | q8_0");
  cmd->add_option("--json", o->json, "write the results as JSON");
  cmd->add_option("--csv", o->csv, "write the results as CSV (and FILE-throughput.csv)");
  cmd->add_option("--plot", o->plot, "write plots (.svg or .png): decode tok/s and KV memory against context");
  auto mo = std::make_shared<ModelBenchFlags>();
  add_model_bench_flags(cmd, *mo);
  // `mla bench gemv`: the decode matrix-vector bandwidth per weight format (bench/gemv_bench.h).
  struct GemvOpts {
    bench::GemvOptions g;
    std::string formats = "bf16,q8_0,q4_0";
  };
  auto go = std::make_shared<GemvOpts>();
  CLI::App* gemv = cmd->add_subcommand("gemv", "decode matrix-vector GB/s per weight format against the read bandwidth");
  gemv->add_option("--rows", go->g.rows, "rows of each matrix")->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
  gemv->add_option("--cols", go->g.cols, "columns of each matrix (a multiple of 32)")->check(CLI::Range(int64_t{32}, int64_t{1} << 24));
  gemv->add_option("--matrices", go->g.matrices, "matrices in the set")->check(CLI::Range(int64_t{1}, int64_t{1} << 16));
  gemv->add_option("--passes", go->g.passes, "timed passes (best kept)")->check(CLI::Range(1, 1000));
  gemv->add_option("--formats", go->formats, "comma-separated: bf16,f16,f32,q8_0,q4_0,q4_1,q5_0,q5_1,iq4_nl,q2_k,q3_k,q4_k,q5_k,q6_k,iq4_xs");
  gemv->callback([go, o] {
    require_one_process("'bench gemv'");
    go->g.formats = parse_weight_formats(go->formats, "--formats");
    ThreadPool pool(o->threads);
    const bench::GemvReport r = bench::run_gemv_bench(go->g, pool, [](const std::string& line) {
      std::fprintf(stderr, "%s\n", line.c_str());
    });
    std::printf("%s", bench::format_gemv_table(r).c_str());
  });

  register_bench_gemm(cmd, o->threads);

  // `mla bench attention`: one layer's decode attention against the roofline (bench/attention_roofline.h).
  struct AttnOpts {
    bench::AttnRooflineOptions a;
    std::string kv_types = "bf16,f32";
  };
  auto ao = std::make_shared<AttnOpts>();
  CLI::App* attention =
      cmd->add_subcommand("attention", "decode attention per variant and cache dtype against the measured roofline");
  attention->add_option("--context", ao->a.context, "cached tokens each decode step attends over")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 22));
  attention->add_option("--kv-types", ao->kv_types, "comma-separated cache dtypes: f32,bf16,f16,fp8,q8_0");
  attention->add_option("--block-tokens", ao->a.block_tokens, "tokens per cache block (the engine's default: 16)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 22));
  attention->add_option("--rounds", ao->a.rounds, "timed rounds (best kept)")->check(CLI::Range(1, 1000));
  attention->callback([ao, o] {
    require_one_process("'bench attention'");
    ao->a.dtypes.clear();
    for (const std::string& t : split_list(ao->kv_types)) ao->a.dtypes.push_back(kv::parse_cache_dtype(t));
    ThreadPool pool(o->threads);
    const bench::AttnRooflineReport r = bench::run_attention_roofline(ao->a, pool, [](const std::string& line) {
      std::fprintf(stderr, "%s\n", line.c_str());
    });
    std::printf("%s", bench::format_attention_roofline(r).c_str());
  });

  cmd->callback([o, mo, cmd] {
    if (!cmd->get_subcommands().empty()) return;  // a subcommand (gemv, gemm, attention) ran instead
    if (!mo->model.empty()) return bench_model(*mo, o->threads, o->quant, o->kv_type, o->json);
    require_one_process("'bench' without --model");
    bench::BenchOptions& b = o->bench;
    b.preset = o->preset;
    b.quant = parse_quant(o->quant);
    b.kv_type = parse_kv_type(o->kv_type);
    b.shape = bench::preset_shape(o->preset);
    bench::BenchShape& s = b.shape;
    auto apply = [](int64_t v, int64_t& field) {
      if (v > 0) field = v;
    };
    apply(o->hidden, s.hidden_size);
    apply(o->heads, s.num_attention_heads);
    apply(o->layers, s.num_hidden_layers);
    apply(o->ffn, s.intermediate_size);
    apply(o->vocab, s.vocab_size);
    apply(o->head_dim, s.head_dim);
    apply(o->gqa_kv_heads, s.gqa_kv_heads);
    apply(o->kv_lora, s.kv_lora_rank);
    apply(o->rope, s.qk_rope_head_dim);
    apply(o->nope, s.qk_nope_head_dim);
    apply(o->v_head_dim, s.v_head_dim);
    if (o->q_lora == 0) s.q_lora_rank.reset();
    if (o->q_lora > 0) s.q_lora_rank = o->q_lora;
    if (s.qk_rope_head_dim % 2) fail("--rope: must be even, got ", s.qk_rope_head_dim);
    if (!o->variants.empty()) b.variants = split_list(o->variants);
    for (const auto& v : b.variants) bench::variant_config(s, v);  // reject unknown names before any work
    if (!o->contexts.empty()) {
      b.contexts.clear();
      for (const auto& c : split_list(o->contexts))
        b.contexts.push_back(c == "0" ? 0 : static_cast<int64_t>(kv::parse_context(c)));
    }
    b.max_kv_bytes = static_cast<double>(kv::parse_mem(o->max_kv_mem));
    b.throughput_budget_bytes = static_cast<double>(kv::parse_mem(o->budget));

    ThreadPool pool(o->threads);
    const StderrProgress progress;
    const bench::BenchReport report = bench::run_bench(b, pool, progress.callback());
    progress.end();
    std::printf("%s", bench::format_table(report).c_str());
    if (!o->json.empty()) bench::write_json(report, o->json);
    if (!o->csv.empty()) bench::write_csv(report, o->csv);
    if (!o->plot.empty()) bench::write_plots(report, o->plot);
  });
}

}  // namespace mla::cli
