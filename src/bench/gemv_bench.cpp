#include "bench/gemv_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>

#include "bench/random_blocks.h"
#include "bench/roofline.h"
#include "core/error.h"
#include "core/human_bytes.h"
#include "kernels/matmul.h"
#include "model/converted_weights.h"
#include "model/random_weights.h"

namespace mla::bench {

GemvReport run_gemv_bench(const GemvOptions& o, ThreadPool& pool, const std::function<void(const std::string&)>& progress) {
  if (o.cols % kQuantBlock != 0) fail("gemv bench: --cols ", o.cols, " is not a multiple of ", kQuantBlock);
  GemvReport rep{o, pool.size(), 0, {}};
  // Random bf16 weights (scaled like a trained linear layer), and each other format converted from them.
  RandomWeights bf16(DType::BF16, 7, pool);
  std::vector<const TensorView*> src;
  progress(str("generating ", o.matrices, " bf16 matrices of ", o.rows, " x ", o.cols));
  for (int64_t i = 0; i < o.matrices; ++i) src.push_back(&bf16.get(str("gemv.", i, ".weight"), {o.rows, o.cols}));
  std::vector<HugeBuffer<uint8_t>> converted;
  std::vector<std::vector<Matrix>> sets;
  for (DType f : o.formats) {
    progress(str("converting to ", dtype_name(f)));
    std::vector<Matrix> ws;
    if (o.cols % dtype_block_values(f) != 0)
      fail("gemv bench: --cols ", o.cols, " is not a multiple of ", dtype_name(f), "'s ", dtype_block_values(f), "-value blocks");
    // F32 / F16 / Q8_0 / Q4_0 are converted from the bf16 weights; the other block formats get random
    // blocks with moderate scales (the bytes streamed and the work per block do not depend on the
    // values, and the lattice quantizers are slow).
    const bool convertible = f == DType::F32 || f == DType::F16 || f == DType::Q8_0 || f == DType::Q4_0;
    if (f != DType::BF16 && !convertible && !has_random_blocks(f))
      fail("gemv bench: no kernel input for ", dtype_name(f), " (formats: bf16, f16, f32, q8_0, q4_0, q4_1, q5_0, q5_1, "
           "iq4_nl, q2_k..q6_k, iq4_xs, iq3_xxs, iq3_s, iq2_xxs, iq2_xs, iq2_s, iq1_s, iq1_m)");
    std::mt19937 rng(11);
    for (const TensorView* t : src) {
      const uint8_t* data = t->data;
      if (f != DType::BF16) {
        converted.push_back(make_huge_buffer<uint8_t>(dtype_row_bytes(f, o.cols) * o.rows));
        if (convertible)
          convert_matrix(*t, nullptr, f, converted.back().get(), pool);
        else
          random_blocks(f, converted.back().get(), o.rows * o.cols / dtype_block_values(f), rng);
        data = converted.back().get();
      }
      ws.push_back(Matrix{f, o.rows, o.cols, data, nullptr});
    }
    sets.push_back(std::move(ws));
    GemvResult r{f, 0, 1e30};
    for (const Matrix& w : sets.back()) r.bytes += static_cast<double>(w.bytes());
    rep.results.push_back(r);
  }
  // The in-cache view of each format: its first matrix's first rows, kHotBytes per thread (whole
  // 4-row blocks per thread, as matmul splits them), run kHotRepeats times per timed pass.
  constexpr size_t kHotBytes = 256 << 10;
  constexpr int kHotRepeats = 32;
  std::vector<Matrix> hot;
  for (const auto& ws : sets) {
    Matrix m = ws.front();
    const int64_t unit = 4 * rep.threads;
    m.rows = std::min(m.rows, std::max<int64_t>(unit, static_cast<int64_t>(kHotBytes * rep.threads / m.row_bytes()) / unit * unit));
    hot.push_back(m);
    rep.results[hot.size() - 1].hot_bytes = static_cast<double>(m.bytes()) * kHotRepeats;
    rep.results[hot.size() - 1].hot_seconds = 1e30;
  }
  ReadProbe probe(pool, static_cast<size_t>(o.rows * o.cols * o.matrices) * 2);

  std::vector<float> x(o.cols, 0.01f), y(o.rows);
  for (int p = 0; p <= o.passes; ++p) {  // round 0 warms up (page faults, pool threads), untimed
    progress(p == 0 ? std::string("warm-up round") : str("round ", p, " of ", o.passes));
    const double read = probe.pass();
    if (p > 0) rep.read_gbps = std::max(rep.read_gbps, read);
    for (size_t k = 0; k < sets.size(); ++k) {
      const auto t0 = std::chrono::steady_clock::now();
      for (const Matrix& w : sets[k]) matmul(pool, w, x.data(), 1, y.data());
      const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (p > 0) rep.results[k].seconds = std::min(rep.results[k].seconds, t);
      const auto h0 = std::chrono::steady_clock::now();
      for (int i = 0; i < kHotRepeats; ++i) matmul(pool, hot[k], x.data(), 1, y.data());
      const double h = std::chrono::duration<double>(std::chrono::steady_clock::now() - h0).count();
      if (p > 0) rep.results[k].hot_seconds = std::min(rep.results[k].hot_seconds, h);
    }
  }
  return rep;
}

std::string format_gemv_table(const GemvReport& r) {
  const GemvOptions& o = r.opts;
  const double weights = static_cast<double>(o.rows) * o.cols * o.matrices;
  char line[256];
  std::snprintf(line, sizeof line, "decode gemv (n = 1): %lld matrices of %lld x %lld = %.0fM weights, %d threads, %s\n",
                static_cast<long long>(o.matrices), static_cast<long long>(o.rows), static_cast<long long>(o.cols),
                weights / 1e6, r.threads, kernel_isa());
  std::string out = line;
  std::snprintf(line, sizeof line, "read bandwidth, same run (interleaved, best of %d): %.1f GB/s\n", o.passes,
                r.read_gbps);
  out += line;
  std::snprintf(line, sizeof line, "%-7s %12s %10s %10s %10s %12s %12s %8s\n", "format", "bytes/pass", "best ms", "GB/s",
                "% of read", "Gweights/s", "in-cache GB/s", "bound");
  out += line;
  for (const GemvResult& g : r.results) {
    // Compute-bound where even the in-cache rate stays below 1 / 0.85 of the read bandwidth: loads
    // and arithmetic then cannot overlap enough to stream at 85% of it.
    const char* bound = g.hot_gbps() * 0.85 < r.read_gbps ? "compute" : "memory";
    std::snprintf(line, sizeof line, "%-7s %12s %10.2f %10.1f %9.1f%% %12.2f %13.1f %8s\n", dtype_name(g.format),
                  human_bytes(static_cast<size_t>(g.bytes)).c_str(), g.seconds * 1e3, g.gbps(),
                  100 * g.gbps() / r.read_gbps, weights / g.seconds / 1e9, g.hot_gbps(), bound);
    out += line;
  }
  out += "in-cache: the first rows of one matrix, 256 KiB per thread, repeated (the kernel's compute ceiling)\n";
  return out;
}

}  // namespace mla::bench
