// What `mla bench` measures, and how it is written out: a table on stdout, JSON, CSV and plots.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mla::bench {

struct MachineInfo {
  std::string cpu;          // model name from /proc/cpuinfo
  std::string isa;          // the kernel ISA picked at run time, e.g. "avx512f"
  int threads = 1;
  double read_gbps = 0;     // STREAM-style read bandwidth, measured in the same run
  double peak_gflops = 0;   // FMA peak (f32, all threads), measured in the same run
};

// One variant at one context depth.
struct BenchRow {
  std::string variant;           // mha | gqa | mqa | mla-naive | mla-absorbed | mla-auto
  int64_t context = 0;           // tokens already in the cache when decoding
  double prefill_tok_s = 0;      // prompt processing speed (measured once per variant)
  double prefill_gflops = 0;     // FLOPs the prefill must do / its time (its share of the FMA peak: roofline)
  double decode_tok_s = 0;       // single-sequence decode at this depth
  double kv_bytes_per_token = 0; // all layers, as this engine stores the cache
  double kv_bytes_total = 0;     // at this context
  double peak_rss_bytes = 0;     // of the whole process so far
  double attention_share = 0;    // fraction of the decode step spent in attention
  double achieved_gbps = 0;      // bytes a decode step must move / step time
  double achieved_gflops = 0;    // FLOPs a decode step must do / step time
  std::string bound;             // "bytes" or "flops": the ceiling that limits this step
  double roofline_fraction = 0;  // achieved / that ceiling
};

// Throughput at an equal KV memory budget: as many sequences of `context` tokens as fit, decoding
// together (one pass over the weights per step for the whole batch).
struct ThroughputRow {
  std::string variant;
  int64_t context = 0;
  double kv_budget_bytes = 0;
  int64_t sequences = 0;
  double tok_s = 0;  // generated tokens per second over all sequences
};

struct BenchReport {
  MachineInfo machine;
  std::string preset;
  std::string shape;  // one line describing the model shape
  std::vector<BenchRow> rows;
  std::vector<ThroughputRow> throughput;
};

// Human-readable tables (decode and throughput), with ratios to MHA where it was measured.
std::string format_table(const BenchReport& r);
void write_json(const BenchReport& r, const std::string& path);
void write_csv(const BenchReport& r, const std::string& path);
// Two plots, one line per variant: decode tok/s against context, and KV memory against context.
// `path` names the first (".svg" or ".png"); the second gets "-kv" before the extension.
// Uses gnuplot; throws mla::Error naming what failed.
void write_plots(const BenchReport& r, const std::string& path);

}  // namespace mla::bench
