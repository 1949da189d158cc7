// The machine's ceilings, measured in the same run as the benchmark so ratios are honest on a shared,
// noisy machine: read bandwidth (STREAM-style sum over a buffer many times the last-level cache) and
// f32 FMA peak (independent FMA chains in registers), both using all threads of the pool.
#pragma once
#include <cstddef>
#include <string>

#include "core/huge_buffer.h"
#include "core/thread_pool.h"

namespace mla::bench {

double measure_read_gbps(ThreadPool& pool, size_t buffer_bytes = size_t{1} << 30);

// The read-bandwidth probe behind measure_read_gbps, one pass at a time, so a benchmark can
// interleave its passes with its own (both then see the same load on a shared machine).
class ReadProbe {
 public:
  ReadProbe(ThreadPool& pool, size_t buffer_bytes);  // allocates and first-touches the buffer
  double pass();                                      // one timed read of the whole buffer, GB/s

 private:
  ThreadPool& pool_;
  int64_t n_;
  HugeBuffer<float> buf_;
};
double measure_peak_gflops(ThreadPool& pool);

// The instruction whose peak a probe measures: the f32 FMA of the widest ISA, or the dot products
// the prefill panels use (kernels/panel_gemm.h), AVX512_BF16 vdpbf16ps (32 multiply-adds per zmm)
// and AVX512_VNNI vpdpbusd (64). A multiply-add counts as 2 operations for all three.
enum class PeakInstr { F32Fma, Bf16Dot, Int8Dot };
const char* peak_instr_name(PeakInstr i);
bool peak_instr_available(PeakInstr i);

// A peak probe, one pass (~30 ms, calibrated once) at a time, to interleave with a benchmark's own
// passes as ReadProbe does. Independent accumulator chains in registers on every pool thread.
class PeakProbe {
 public:
  explicit PeakProbe(ThreadPool& pool, PeakInstr instr = PeakInstr::F32Fma);
  double pass();  // G operations/s (GFLOP/s, or GOP/s for int8) of one pass on all threads

 private:
  ThreadPool& pool_;
  PeakInstr instr_;
  int64_t iters_ = 1 << 12;
};

// The widest vector ISA the kernels' run-time dispatch picks on this CPU.
const char* kernel_isa();
std::string cpu_name();

}  // namespace mla::bench
