// Roofline ceilings measured on the machine the benchmark runs on (see roofline.h).
//
// Read bandwidth: every pool thread sums its own contiguous slice of one large buffer (first touched by
// that same thread, so pages sit on its NUMA node), or of each span it is given, as 64-bit integers
// with many independent accumulators so the loop is limited by loads, not by the latency of the add
// chain. Best of several passes, in 1e9 bytes/s.
//
// FMA peak: every pool thread runs N independent FMA chains on register-resident vectors (N >= FMA
// latency x FMA ports, so the pipes never wait on a result), 2 FLOPs per FMA lane. Best of a few passes.
#include "bench/roofline.h"

#include "core/huge_buffer.h"
#include "kernels/matmul.h"

#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/cpu_clones.h"
#include "core/error.h"

namespace mla::bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Results are folded into this so the compiler cannot drop the measured loops.
volatile float g_sink = 0;

// Thread ith's share [begin, end) of n bytes, cut at multiples of 64 (cache lines) where possible.
std::pair<size_t, size_t> thread_slice(size_t n, int ith, int nth) {
  auto cut = [&](int i) { return i == nth ? n : n / 64 * static_cast<size_t>(i) / static_cast<size_t>(nth) * 64; };
  return {cut(ith), cut(ith + 1)};
}

// Integer sum of n bytes read as 64-bit words (8 independent lanes per vector, enough accumulators
// to hide the add latency): any bit pattern is fine, unlike floats (NaN, denormals), so the probe
// can read weights as they lie. The tail under 8 bytes is not read.
constexpr int kSumWords = 32;

MLA_CLONES uint64_t sum_bytes(const uint8_t* p, size_t n) {
  uint64_t acc[kSumWords] = {};
  const size_t words = n / 8;
  size_t i = 0;
  for (; i + kSumWords <= words; i += kSumWords)
    for (int j = 0; j < kSumWords; ++j) {
      uint64_t w;
      std::memcpy(&w, p + 8 * (i + static_cast<size_t>(j)), 8);
      acc[j] += w;
    }
  uint64_t s = 0;
  for (; i < words; ++i) {
    uint64_t w;
    std::memcpy(&w, p + 8 * i, 8);
    s += w;
  }
  for (int j = 0; j < kSumWords; ++j) s += acc[j];
  return s;
}

// FMA chains: acc = acc * a + b, with a < 1 so every chain converges (to b / (1 - a)) and never
// overflows or goes denormal. The chain count is set by the register file: 16 chains + a + b fit in
// the 32 zmm registers; 12 + 2 in the 16 ymm registers. Intrinsics (not vector extensions) so the
// instruction is vfmadd whatever -ffp-contract says.
constexpr int kChains512 = 16, kChains256 = 12, kChains128 = 12;

__attribute__((target("avx512f"))) float fma_chains_avx512(int64_t iters, float a_, float b_) {
  const __m512 a = _mm512_set1_ps(a_), b = _mm512_set1_ps(b_);
  __m512 acc[kChains512];
  for (int j = 0; j < kChains512; ++j) acc[j] = _mm512_set1_ps(0.01f * j);
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 16
    for (int j = 0; j < kChains512; ++j) acc[j] = _mm512_fmadd_ps(acc[j], a, b);
  }
  __m512 s = acc[0];
  for (int j = 1; j < kChains512; ++j) s = _mm512_add_ps(s, acc[j]);
  alignas(64) float out[16];  // (not _mm512_reduce_add_ps: GCC 12 warns inside it)
  _mm512_store_ps(out, s);
  float r = 0;
  for (float v : out) r += v;
  return r;
}

__attribute__((target("avx2,fma"))) float fma_chains_avx2(int64_t iters, float a_, float b_) {
  const __m256 a = _mm256_set1_ps(a_), b = _mm256_set1_ps(b_);
  __m256 acc[kChains256];
  for (int j = 0; j < kChains256; ++j) acc[j] = _mm256_set1_ps(0.01f * j);
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (int j = 0; j < kChains256; ++j) acc[j] = _mm256_fmadd_ps(acc[j], a, b);
  }
  __m256 s = acc[0];
  for (int j = 1; j < kChains256; ++j) s = _mm256_add_ps(s, acc[j]);
  alignas(32) float out[8];
  _mm256_store_ps(out, s);
  float r = 0;
  for (float v : out) r += v;
  return r;
}

// The dot-product chains: acc = dot(a, b) + acc with 16 chains of zmm, 32 (bf16 pairs) or 64 (byte
// quads) multiply-adds each. Values stay small (bf16 1e-3 products; int32 wraps harmlessly).
__attribute__((target("avx512f,avx512bf16"))) float bf16_dot_chains(int64_t iters, float a_, float b_) {
  const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(a_), _mm512_set1_ps(a_));
  const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(b_), _mm512_set1_ps(b_));
  __m512 acc[kChains512];
  for (int j = 0; j < kChains512; ++j) acc[j] = _mm512_set1_ps(0.01f * j);
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 16
    for (int j = 0; j < kChains512; ++j) acc[j] = _mm512_dpbf16_ps(acc[j], a, b);
  }
  __m512 s = acc[0];
  for (int j = 1; j < kChains512; ++j) s = _mm512_add_ps(s, acc[j]);
  alignas(64) float out[16];
  _mm512_store_ps(out, s);
  return out[0];
}

__attribute__((target("avx512f,avx512vnni"))) float int8_dot_chains(int64_t iters, float a_, float b_) {
  const __m512i a = _mm512_set1_epi8(static_cast<char>(a_ * 100)), b = _mm512_set1_epi8(static_cast<char>(b_ * 1000));
  __m512i acc[kChains512];
  for (int j = 0; j < kChains512; ++j) acc[j] = _mm512_set1_epi32(j);
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 16
    for (int j = 0; j < kChains512; ++j) acc[j] = _mm512_dpbusd_epi32(acc[j], a, b);
  }
  __m512i s = acc[0];
  for (int j = 1; j < kChains512; ++j) s = _mm512_add_epi32(s, acc[j]);
  alignas(64) int32_t out[16];
  _mm512_store_si512(out, s);
  return static_cast<float>(out[0]);
}

// Baseline x86-64 has SSE2 but no FMA: a multiply and an add per lane, still 2 FLOPs.
float fma_chains_sse(int64_t iters, float a_, float b_) {
  const __m128 a = _mm_set1_ps(a_), b = _mm_set1_ps(b_);
  __m128 acc[kChains128];
  for (int j = 0; j < kChains128; ++j) acc[j] = _mm_set1_ps(0.01f * j);
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (int j = 0; j < kChains128; ++j) acc[j] = _mm_add_ps(_mm_mul_ps(acc[j], a), b);
  }
  __m128 s = acc[0];
  for (int j = 1; j < kChains128; ++j) s = _mm_add_ps(s, acc[j]);
  alignas(16) float out[4];
  _mm_store_ps(out, s);
  return out[0] + out[1] + out[2] + out[3];
}

enum class Isa { avx512f, avx2, x86_64 };

// Same order as the target_clones resolver (core/cpu_clones.h): avx512f, then AVX2 + FMA, then the baseline.
Isa detect_isa() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return Isa::avx512f;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::avx2;
  return Isa::x86_64;
}

struct FmaKernel {
  float (*fn)(int64_t, float, float);
  double flops_per_iter;  // chains x lanes x 2
};

FmaKernel pick_kernel(PeakInstr instr) {
  if (instr == PeakInstr::Bf16Dot) return {bf16_dot_chains, 2.0 * kChains512 * 32};
  if (instr == PeakInstr::Int8Dot) return {int8_dot_chains, 2.0 * kChains512 * 64};
  switch (detect_isa()) {
    case Isa::avx512f: return {fma_chains_avx512, 2.0 * kChains512 * 16};
    case Isa::avx2: return {fma_chains_avx2, 2.0 * kChains256 * 8};
    case Isa::x86_64: break;
  }
  return {fma_chains_sse, 2.0 * kChains128 * 4};
}

}  // namespace

ReadProbe::ReadProbe(ThreadPool& pool, size_t buffer_bytes) : pool_(pool), bytes_(buffer_bytes / 64 * 64) {
  if (bytes_ < 4096) fail("measure_read_gbps: buffer of ", buffer_bytes, " bytes is too small");
  // Huge pages where the kernel allows: TLB misses do not eat into the measured bandwidth.
  buf_ = make_huge_buffer<uint8_t>(bytes_);
  spans_.emplace_back(buf_.get(), bytes_);
  // First touch by the thread that will read the slice: pages are faulted in (not timed) and placed
  // on that thread's memory node.
  pool.run([&](int ith, int nth) {
    const auto [begin, end] = thread_slice(bytes_, ith, nth);
    std::fill(buf_.get() + begin, buf_.get() + end, uint8_t{1});
  });
}

ReadProbe::ReadProbe(ThreadPool& pool, std::vector<std::span<const uint8_t>> spans, size_t max_bytes) : pool_(pool) {
  size_t total = 0;
  for (const auto& s : spans) total += s.size();
  if (total == 0) fail("read probe: no bytes to read");
  constexpr size_t kPiece = size_t{16} << 20;
  // Every step-th piece of each span (its tail piece may be shorter), so the sample spans the memory.
  const size_t cap = std::max(max_bytes, kPiece), step = (total + cap - 1) / cap;
  size_t piece = 0;
  for (const auto& s : spans)
    for (size_t off = 0; off < s.size(); off += kPiece, ++piece)
      if (piece % step == 0) spans_.push_back(s.subspan(off, std::min(kPiece, s.size() - off)));
  for (const auto& s : spans_) bytes_ += s.size();
  pass();  // faults the pages in (a file not yet in the page cache is read from disk here)
}

double ReadProbe::pass() {
  std::vector<uint64_t> partial(static_cast<size_t>(pool_.size()) * 8, 0);  // 64 bytes apart: no false sharing
  const auto t0 = Clock::now();
  for (const auto& s : spans_)
    pool_.run([&](int ith, int nth) {
      const auto [begin, end] = thread_slice(s.size(), ith, nth);
      partial[static_cast<size_t>(ith) * 8] += sum_bytes(s.data() + begin, end - begin);
    });
  const double t = seconds_since(t0);
  uint64_t sum = 0;
  for (uint64_t p : partial) sum += p;
  g_sink = g_sink + static_cast<float>(sum & 1);
  return t > 0 ? static_cast<double>(bytes_) / t / 1e9 : 0;
}

double measure_read_gbps(ThreadPool& pool, size_t buffer_bytes) {
  ReadProbe probe(pool, buffer_bytes);
  double best = 0;
  // At least 3 passes, then more while under ~0.75 s (at most 20): with the first touch, ~1-2 s on 1 GiB.
  const auto t_all = Clock::now();
  for (int rep = 0; rep < 20 && (rep < 3 || seconds_since(t_all) < 0.75); ++rep) best = std::max(best, probe.pass());
  return best;
}

namespace {
// One pass of the FMA chains on every thread: seconds.
double fma_pass(ThreadPool& pool, const FmaKernel& k, int64_t iters) {
  // Read through a volatile so the compiler cannot fold the chains into a closed form.
  static volatile float va = 0.999f, vb = 0.001f;
  const float a = va, b = vb;
  std::vector<float> partial(static_cast<size_t>(pool.size()) * 16, 0.0f);
  const auto t0 = Clock::now();
  pool.run([&](int ith, int) { partial[static_cast<size_t>(ith) * 16] = k.fn(iters, a, b); });
  const double t = seconds_since(t0);
  for (size_t i = 0; i < partial.size(); i += 16) g_sink = g_sink + partial[i];
  return t;
}
}  // namespace

const char* peak_instr_name(PeakInstr i) {
  switch (i) {
    case PeakInstr::Bf16Dot: return "vdpbf16ps";
    case PeakInstr::Int8Dot: return "vpdpbusd";
    case PeakInstr::F32Fma: break;
  }
  return "f32 fma";
}

bool peak_instr_available(PeakInstr i) {
  __builtin_cpu_init();
  if (i == PeakInstr::Bf16Dot) return __builtin_cpu_supports("avx512bf16");
  if (i == PeakInstr::Int8Dot) return __builtin_cpu_supports("avx512vnni");
  return true;
}

PeakProbe::PeakProbe(ThreadPool& pool, PeakInstr instr) : pool_(pool), instr_(instr) {
  if (!peak_instr_available(instr)) fail("this CPU has no ", peak_instr_name(instr));
  // Calibrate: grow the pass until it takes >= 10 ms, then size passes to ~30 ms each. Many short
  // passes rather than a few long ones: on a shared machine the best pass is the one that ran
  // without being preempted, and short passes are likelier to find such a window.
  const FmaKernel k = pick_kernel(instr_);
  double t = fma_pass(pool_, k, iters_);
  while (t < 0.01 && iters_ < (int64_t{1} << 40)) {
    iters_ *= 4;
    t = fma_pass(pool_, k, iters_);
  }
  iters_ = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(iters_) * 0.03 / std::max(t, 1e-9)));
}

double PeakProbe::pass() {
  const FmaKernel k = pick_kernel(instr_);
  const double t = fma_pass(pool_, k, iters_);
  return t > 0 ? k.flops_per_iter * static_cast<double>(iters_) * pool_.size() / t / 1e9 : 0;
}

double measure_peak_gflops(ThreadPool& pool) {
  PeakProbe probe(pool);
  double best = 0;
  for (int rep = 0; rep < 14; ++rep) best = std::max(best, probe.pass());
  return best;
}

const char* kernel_isa() {
  // The kernels actually in use: the explicit AVX-512 ones (with VNNI for quantized decode), else the
  // portable loops, compiled per ISA by target_clones.
  if (kernels_use_vnni()) return "avx512f+vnni";
  if (kernels_use_avx512()) return "avx512f";
  switch (detect_isa()) {
    case Isa::avx512f: return "avx512f (portable kernels)";
    case Isa::avx2: return "avx2+fma";
    case Isa::x86_64: break;
  }
  return "x86-64";
}

std::string cpu_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    size_t b = line.find_first_not_of(" \t", colon + 1);
    if (b == std::string::npos) break;
    size_t e = line.find_last_not_of(" \t\r");
    return line.substr(b, e - b + 1);
  }
  return "unknown cpu";
}

}  // namespace mla::bench
