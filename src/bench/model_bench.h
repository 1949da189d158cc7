// `mla bench --model`: llama-bench for a loaded model. Prefill (pp<P>) and decode (tg<N>) speed
// over random token ids, each at cache depths that are filled untimed first, repeated and reported
// as mean ± sd of tokens per second, as a table or as JSON.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bench/roofline.h"
#include "kv/kv_accounting.h"
#include "model/model.h"
#include "tensor/dtype.h"

namespace mla::bench {

struct ModelBenchOptions {
  std::vector<int64_t> prompt_tokens = {512};  // -p: one pp test per length
  int64_t decode_tokens = 64;                  // -n: the tg test's length; 0 skips it
  std::vector<int64_t> depths = {0};           // -d: tokens already in the cache before each test
  int reps = 3;                                // -r: timed repetitions (after one warm-up run)
  AttnMode attn = AttnMode::Auto;
  // f32 by default: the cache `mla generate` decodes through, so tg matches what it reports.
  kv::CacheDtype kv_type = kv::CacheDtype::F32;
  uint64_t seed = 1;  // of the random token ids
};

// One test at one depth.
struct ModelBenchResult {
  std::string test;              // "pp512" | "tg64"
  std::string kind;              // "prefill" | "decode"
  int64_t tokens = 0, depth = 0;
  std::vector<double> seconds;   // per timed repetition
  double tps_mean = 0, tps_sd = 0;  // over the repetitions' tokens / seconds (sd: n - 1, 0 for one)
  // Decode with a read probe: weight bytes one token reads (kernels' weight_bytes_read over the timed
  // repetitions), the GB/s that makes at tps_mean, and the best read-probe pass run between the
  // repetitions (the same load on a shared machine): over a fresh buffer (read_gbps) and over the
  // weights' own pages (file_read_gbps). 0 where not measured.
  double weight_bytes_per_token = 0, weight_gbps = 0, read_gbps = 0, file_read_gbps = 0;
};

// A run and what it ran on. The caller fills the description (it knows the path, the files and
// the flags) and `results` from run_model_bench.
struct ModelBenchReport {
  std::string model;           // as given on the command line
  std::string architecture;    // config().architecture
  int64_t n_params = 0;        // params().total
  std::string weights;         // weight dtypes as loaded, e.g. "BF16, F32" or "BF16, F32 -> Q8_0"
  int threads = 1;
  std::optional<DType> quant;  // --quant
  ModelBenchOptions options;
  std::vector<ModelBenchResult> results;
};

// mla::Error (one line, naming the flag) for non-positive lengths or repetitions, negative depths or
// negative -n, and a depth + test length beyond `max_context` tokens.
void check_model_bench_options(const ModelBenchOptions& o, int64_t max_context);

// Checks the options against the model's max_position_embeddings, then for each depth in order: pp
// tests in order, then tg. `progress` gets one line per step. With a read probe, each tg
// repetition is followed by one probe pass (ModelBenchResult's bandwidth fields); with file_probe
// (reading the model's weight pages) by one of that too.
std::vector<ModelBenchResult> run_model_bench(Model& model, const ModelBenchOptions& o,
                                              const std::function<void(const std::string&)>& progress,
                                              ReadProbe* read_probe = nullptr, ReadProbe* file_probe = nullptr);

// llama-bench's table: a header line describing the run, then | test | depth | t/s |, and for tg
// rows measured with a read probe | weights GB/s | % of read | (and | % of file read | with a file probe).
std::string format_model_bench_table(const ModelBenchReport& r);
// {"engine":"mla","model":...,"threads":...,"attn":...,"kv_type":...,"quant":null|"q8_0",
//  "results":[{"test","kind","tokens","depth","reps","tps_mean","tps_sd","seconds":[...]
//  (+ "weight_bytes_per_token","weight_gbps","read_gbps" for tg rows with a read probe, and
//  "file_read_gbps" with a file probe)}]}
std::string model_bench_json(const ModelBenchReport& r);
void write_model_bench_json(const ModelBenchReport& r, const std::string& path);

}  // namespace mla::bench
