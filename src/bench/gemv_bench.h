// `mla bench gemv`: decode-time matrix-vector products (n = 1, every weight read once per token)
// over a set of matrices many times the last-level cache, per weight format, against the read
// bandwidth measured in the same run. Quantized formats stream fewer bytes for the same weights:
// both the bytes/s actually streamed and the weights/s are reported. Every round times one read
// pass and one pass of each format back to back, so on a shared, noisy machine the ceiling and the
// kernels are measured under the same load; the best of the rounds is kept for each. Formats without
// a converter from bf16 (K-quants, IQ4, Q4_1, Q5_0, Q5_1) stream random blocks (bench/random_blocks.h).
// Each format is also timed on the first rows of its first matrix, few enough that every thread's
// share stays in its core's L2 (256 KiB each), repeated: that rate is the kernel's compute ceiling.
// A format whose ceiling is not well above the read bandwidth cannot stream at that bandwidth, and
// the table says so ("compute" in the bound column) instead of leaving it to be guessed.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "tensor/dtype.h"

namespace mla::bench {

struct GemvOptions {
  int64_t rows = 8192, cols = 2048;  // one matrix (a wide projection); cols a multiple of 32
  int64_t matrices = 32;             // 32 x 8192 x 2048 = 537M weights: 1 GiB in bf16
  std::vector<DType> formats = {DType::BF16, DType::Q8_0, DType::Q4_0};
  int passes = 5;                    // timed rounds (read pass + one pass per format), best kept
};

struct GemvResult {
  DType format;
  double bytes = 0;    // weight bytes streamed per pass
  double seconds = 0;  // best pass
  double hot_bytes = 0, hot_seconds = 0;  // the in-cache repeat: bytes per timed run, best run
  double gbps() const { return bytes / seconds / 1e9; }
  double hot_gbps() const { return hot_bytes / hot_seconds / 1e9; }
};

struct GemvReport {
  GemvOptions opts;
  int threads = 0;
  double read_gbps = 0;  // best read pass over a buffer as large as the bf16 set
  std::vector<GemvResult> results;
};

GemvReport run_gemv_bench(const GemvOptions& o, ThreadPool& pool, const std::function<void(const std::string&)>& progress);
std::string format_gemv_table(const GemvReport& r);

}  // namespace mla::bench
