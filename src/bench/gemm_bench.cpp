#include "bench/gemm_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "core/error.h"
#include "kernels/matmul.h"
#include "model/converted_weights.h"
#include "bench/random_blocks.h"
#include "model/random_weights.h"

namespace mla::bench {
namespace {

// The instruction the panel kernel for weights of type t runs on.
PeakInstr panel_instr(DType t) {
  return panel::rounding_for(t) == ActivationRounding::Bf16 ? PeakInstr::Bf16Dot : PeakInstr::Int8Dot;
}

double seconds_of(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

GemmReport run_gemm_bench(const GemmOptions& o, ThreadPool& pool, const std::function<void(const std::string&)>& progress) {
  for (DType f : o.formats) {
    if (panel::rounding_for(f) == ActivationRounding::None)
      fail("gemm bench: no panel kernel for ", dtype_name(f), " (formats: bf16 and the block formats)");
    if (o.cols % dtype_block_values(f) != 0)
      fail("gemm bench: --cols ", o.cols, " is not a multiple of ", dtype_name(f), "'s ", dtype_block_values(f), "-value blocks");
  }
  GemmReport rep{o, pool.size(), {}};
  RandomWeights bf16(DType::BF16, 11, pool);
  const TensorView& src = bf16.get("gemm.weight", {o.rows, o.cols});
  std::vector<HugeBuffer<uint8_t>> converted;
  std::vector<Matrix> ws;
  std::mt19937 blocks_rng(11);
  for (DType f : o.formats) {
    const uint8_t* data = src.data;
    if (f != DType::BF16) {
      converted.push_back(make_huge_buffer<uint8_t>(dtype_row_bytes(f, o.cols) * o.rows));
      // Q8_0 / Q4_0 from the bf16 weights; the other formats as random blocks (bench/random_blocks.h:
      // the work per block does not depend on the values, and the lattice quantizers are slow).
      if (f == DType::Q8_0 || f == DType::Q4_0)
        convert_matrix(src, nullptr, f, converted.back().get(), pool);
      else
        random_blocks(f, converted.back().get(), o.rows * o.cols / dtype_block_values(f), blocks_rng);
      data = converted.back().get();
    }
    ws.push_back(Matrix{f, o.rows, o.cols, data, nullptr});
    GemmResult r{f, {}};
    if (peak_instr_available(panel_instr(f))) r.timings.push_back({"panel", panel_instr(f)});
    r.timings.push_back({"f32 fma", PeakInstr::F32Fma});
    rep.results.push_back(r);
  }
  std::vector<float> X(o.n * o.cols), Y(o.n * o.rows);
  std::mt19937 rng(5);
  std::normal_distribution<float> dist;
  for (float& v : X) v = dist(rng);
  std::vector<std::unique_ptr<PeakProbe>> probes;
  for (PeakInstr i : {PeakInstr::F32Fma, PeakInstr::Bf16Dot, PeakInstr::Int8Dot})
    probes.push_back(peak_instr_available(i) ? std::make_unique<PeakProbe>(pool, i) : nullptr);

  for (int p = 0; p <= o.passes; ++p) {  // round 0 warms up, untimed
    progress(p == 0 ? std::string("warm-up round") : str("round ", p, " of ", o.passes));
    for (size_t k = 0; k < ws.size(); ++k)
      for (GemmTiming& t : rep.results[k].timings) {
        const double peak = probes[static_cast<size_t>(t.instr)]->pass();
        set_kernel_path(t.instr == PeakInstr::F32Fma ? KernelPath::NoVnni : KernelPath::Auto);
        const double s = seconds_of([&] { matmul(pool, ws[k], X.data(), o.n, Y.data()); });
        set_kernel_path(KernelPath::Auto);
        if (p == 0) continue;
        t.seconds = std::min(t.seconds, s);
        t.peak_gops = std::max(t.peak_gops, peak);
      }
  }
  return rep;
}

std::string format_gemm_table(const GemmReport& r) {
  const GemmOptions& o = r.opts;
  const double ops = 2.0 * static_cast<double>(o.rows) * o.cols * o.n;
  char line[256];
  std::snprintf(line, sizeof line, "prefill gemm: %lld x %lld weights, %lld input rows, %d threads (best of %d rounds)\n",
                static_cast<long long>(o.rows), static_cast<long long>(o.cols), static_cast<long long>(o.n), r.threads,
                o.passes);
  std::string out = line;
  std::snprintf(line, sizeof line, "%-6s %-8s %-10s %10s %10s %12s %9s %9s\n", "format", "kernel", "instr", "best ms",
                "GFLOP/s", "instr peak", "of peak", "speed-up");
  out += line;
  for (const GemmResult& g : r.results) {
    const double base = g.timings.back().seconds;  // the f32 path
    for (const GemmTiming& t : g.timings) {
      const double gflops = ops / t.seconds / 1e9;
      std::snprintf(line, sizeof line, "%-6s %-8s %-10s %10.2f %10.1f %12.1f %8.1f%% %8.2fx\n", dtype_name(g.format),
                    t.kernel, peak_instr_name(t.instr), t.seconds * 1e3, gflops, t.peak_gops,
                    100 * gflops / t.peak_gops, base / t.seconds);
      out += line;
    }
  }
  return out;
}

}  // namespace mla::bench
