// `mla bench`: builds each variant with deterministic random bf16 weights in memory and measures
// prefill, single-sequence decode at several cache depths, and batched decode throughput at an
// equal KV memory budget, against the machine's ceilings measured in the same run.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bench/report.h"
#include "bench/variants.h"
#include "core/thread_pool.h"
#include "kv/kv_accounting.h"
#include "tensor/dtype.h"

namespace mla::bench {

struct BenchOptions {
  std::string preset = "deepseek-v2-lite-attn";
  BenchShape shape;  // the preset's, with overrides applied
  std::vector<std::string> variants = variant_names();
  std::vector<int64_t> contexts = {0, 1024, 4096, 16384, 32768, 65536, 131072};
  int64_t prompt_tokens = 256;          // prefill measurement
  double min_seconds = 1.0;             // time each decode measurement at least this long...
  int64_t max_steps = 32;               // ...or stop after this many steps
  double max_kv_bytes = 8.0 * (1 << 30);  // skip a context whose cache would need more
  double throughput_budget_bytes = 1.0 * (1 << 30);  // KV budget for the equal-memory run
  int64_t throughput_context = 4096;
  int64_t max_batch = 256;
  bool throughput_naive = false;
  kv::CacheDtype kv_type = kv::CacheDtype::BF16;  // every variant's cache, as `mla serve` keeps it
  std::optional<DType> quant;  // quantize the bf16 weights (Q8_0 / Q4_0) before measuring  // naive MLA re-expands every cached token every step: very slow
};

// Called with one line of progress at a time.
using Progress = std::function<void(const std::string&)>;

BenchReport run_bench(const BenchOptions& opts, ThreadPool& pool, const Progress& progress);

}  // namespace mla::bench
