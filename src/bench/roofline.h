// The machine's ceilings, measured in the same run as the benchmark so ratios are honest on a shared,
// noisy machine: read bandwidth (STREAM-style sum over a buffer many times the last-level cache) and
// f32 FMA peak (independent FMA chains in registers), both using all threads of the pool.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/huge_buffer.h"
#include "core/thread_pool.h"

namespace mla::bench {

double measure_read_gbps(ThreadPool& pool, size_t buffer_bytes = size_t{1} << 30);

// The read-bandwidth probe behind measure_read_gbps, one pass at a time, so a benchmark can
// interleave its passes with its own (both then see the same load on a shared machine).
class ReadProbe {
 public:
  // Its own buffer: anonymous memory (huge pages where the kernel allows), first touched by the
  // threads that read it.
  ReadProbe(ThreadPool& pool, size_t buffer_bytes);
  // Memory the caller holds and keeps alive, e.g. a model's weight tensors in their mapped files. In
  // a virtual machine two regions of RAM can read at very different speeds (how the host backs
  // them), so the pages the weights sit in may not read like a fresh buffer. At most max_bytes are
  // read per pass (about: whole 16 MiB pieces, evenly spaced). Touched once, untimed, here.
  ReadProbe(ThreadPool& pool, std::vector<std::span<const uint8_t>> spans, size_t max_bytes = size_t{1} << 30);
  double pass();  // one timed read of every byte, GB/s
  size_t bytes() const { return bytes_; }  // what one pass reads

 private:
  ThreadPool& pool_;
  HugeBuffer<uint8_t> buf_;                      // the first form's buffer
  std::vector<std::span<const uint8_t>> spans_;  // what a pass reads
  size_t bytes_ = 0;
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
