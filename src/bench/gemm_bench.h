// `mla bench gemm`: prefill products (n input rows against one weight matrix, as a chunk of a prompt
// meets every projection) per weight format, against the peak of the instruction each runs on,
// measured in the same run: the panel kernels (kernels/panel_gemm.h) on vdpbf16ps / vpdpbusd, and
// the AVX-512 f32 path (weights widened to f32, FMA) they replace, against the f32 FMA peak. Every
// round times each probe and each kernel back to back; the best of the rounds is kept for each.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/roofline.h"
#include "core/thread_pool.h"
#include "tensor/dtype.h"

namespace mla::bench {

struct GemmOptions {
  int64_t rows = 2048, cols = 2048;  // one projection of DeepSeek-V2-Lite (hidden 2048); cols % 32 == 0
  int64_t n = 512;                   // input rows: one prefill chunk
  std::vector<DType> formats = {DType::BF16, DType::Q8_0, DType::Q4_0};
  int passes = 5;
};

struct GemmTiming {
  const char* kernel;   // "panel" or "f32 fma"
  PeakInstr instr;      // what its peak is measured with
  double seconds = 1e30, peak_gops = 0;  // best product, best probe pass
};

struct GemmResult {
  DType format;
  std::vector<GemmTiming> timings;  // the panel kernel (where the CPU has its instruction), then f32
};

struct GemmReport {
  GemmOptions opts;
  int threads = 0;
  std::vector<GemmResult> results;
};

GemmReport run_gemm_bench(const GemmOptions& o, ThreadPool& pool, const std::function<void(const std::string&)>& progress);
std::string format_gemm_table(const GemmReport& r);

}  // namespace mla::bench
