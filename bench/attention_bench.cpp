// Attention over the cache, two benchmarks:
//  BM_MlaAttention: naive against absorbed MLA at DeepSeek-V2-Lite's attention shape (16 heads,
//    kv_lora 512, rope 64, nope 128, v 128), for prefill and for decode at several context depths.
//    Its numbers are what `--attn auto` is based on (docs/ATTENTION_PATHS.md).
//  BM_DecodeRoofline: one decode step of one layer over a deep cache, absorbed MLA (16 and 128
//    heads) and the MHA / GQA core at the same head count, per cache dtype, reported as a fraction of
//    this machine's roofline: max(bytes / read bandwidth, FLOPs / FMA peak) / time, with both
//    ceilings measured (bench/roofline.h) right before each case, so the ratio holds on a noisy,
//    shared machine (docs/KERNELS.md); cpu_flop_fraction is the FLOP side in CPU time (FLOPs per
//    thread-CPU-second / FMA peak per thread-CPU-second), steady however busy the machine is.
#include <benchmark/benchmark.h>

#include <time.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <vector>

#include "bench/roofline.h"
#include "kernels/attention.h"
#include "model/mla_attention.h"

namespace mla {
namespace {

constexpr MlaShape kShape{16, 128, 64, 128, 512, 0.0625f};

std::vector<float> random_values(size_t n, uint64_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 0.05f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// A cache of `tokens` random rows (the same 4096 rows repeated: the values do not change the speed).
KvCache random_cache(int64_t row_width, int64_t tokens, kv::CacheDtype dtype) {
  KvCache cache(1, row_width, tokens, dtype);
  const int64_t distinct = std::min<int64_t>(tokens, 4096);
  const std::vector<float> rows = random_values(distinct * row_width, 1);
  for (int64_t t = 0; t < tokens; ++t) cache.write_row(0, t, rows.data() + (t % distinct) * row_width);
  cache.set_n_tokens(tokens);
  return cache;
}

struct MlaSetup {
  std::vector<uint16_t> kv_b;  // bf16, as checkpoints store it
  Matrix kv_b_view;
  KvCache cache;
  std::vector<float> q, out;

  MlaSetup(const MlaShape& s, int64_t T, int64_t context, kv::CacheDtype dtype)
      : kv_b(s.n_head * (s.qk_nope_head_dim + s.v_head_dim) * s.kv_lora_rank),
        cache(random_cache(s.kv_lora_rank + s.qk_rope_head_dim, context + T, dtype)),
        q(random_values(T * s.n_head * (s.qk_nope_head_dim + s.qk_rope_head_dim), 2)),
        out(T * s.n_head * s.v_head_dim) {
    const std::vector<float> w = random_values(kv_b.size(), 3);
    for (size_t i = 0; i < w.size(); ++i) kv_b[i] = f32_to_bf16(w[i]);
    kv_b_view = Matrix{DType::BF16, s.n_head * (s.qk_nope_head_dim + s.v_head_dim), s.kv_lora_rank,
                       reinterpret_cast<const uint8_t*>(kv_b.data()), nullptr};
  }
};

// MLA_THREADS=n runs the pool with n threads (default: physical cores).
ThreadPool& pool() {
  static ThreadPool p(std::getenv("MLA_THREADS") ? std::atoi(std::getenv("MLA_THREADS")) : ThreadPool::default_threads());
  return p;
}

// args: mode (0 naive, 1 absorbed, 2 auto), T new tokens, context already cached
void BM_MlaAttention(benchmark::State& state) {
  const auto mode = static_cast<AttnMode>(state.range(0));
  const int64_t T = state.range(1), context = state.range(2);
  MlaSetup s(kShape, T, context, kv::CacheDtype::F32);
  MlaAttention attn;
  for (auto _ : state) {
    attn.run(mode, pool(), kShape, s.kv_b_view, s.cache, 0, s.q.data(), T, context, s.out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * T);
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * mla_attention_flops(mode == AttnMode::Auto ? resolve_attn_mode(mode, kShape, T, context) : mode, kShape, T, context) * state.iterations(), benchmark::Counter::kIsRate);
  state.SetLabel(std::string(attn_mode_name(mode)) + (T == 1 ? " decode" : " prefill"));
}

void MlaArgs(benchmark::internal::Benchmark* b) {
  for (int mode : {0, 1, 2}) {
    b->Args({mode, 256, 0});   // prefill of a 256-token prompt
    b->Args({mode, 1, 512});   // decode at depth 512
    b->Args({mode, 1, 4096});  // decode at depth 4096
  }
}
BENCHMARK(BM_MlaAttention)->Apply(MlaArgs)->Unit(benchmark::kMillisecond)->UseRealTime();

double process_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Sets the roofline counters of a case that moves `bytes` and computes `flops` per iteration.
void roofline_counters(benchmark::State& state, double bytes, double flops, double read_gbps, double peak_gflops,
                       double seconds_per_iter) {
  const double t_bytes = bytes / (read_gbps * 1e9), t_flops = flops / (peak_gflops * 1e9);
  state.counters["read_GB/s"] = read_gbps;
  state.counters["peak_GFLOP/s"] = peak_gflops;
  state.counters["GB/s"] = bytes / seconds_per_iter / 1e9;
  state.counters["GFLOP/s"] = flops / seconds_per_iter / 1e9;
  state.counters["floor_ms"] = 1e3 * std::max(t_bytes, t_flops);
  state.counters["roofline"] = std::max(t_bytes, t_flops) / seconds_per_iter;
  state.counters["flop_bound"] = t_flops >= t_bytes;
}

// args: variant (0 absorbed MLA, 1 MHA, 2 GQA with 4 kv heads), heads, context, cache dtype
void BM_DecodeRoofline(benchmark::State& state) {
  const int variant = static_cast<int>(state.range(0));
  const int64_t H = state.range(1), context = state.range(2);
  const auto dtype = static_cast<kv::CacheDtype>(state.range(3));
  const double read = bench::measure_read_gbps(pool(), size_t{512} << 20), peak = bench::measure_peak_gflops(pool()),
               peak_cpu = bench::measure_peak_gflops_cpu(pool());
  double bytes, flops;
  std::function<void()> step;
  std::unique_ptr<MlaSetup> mla;
  std::unique_ptr<KvCache> cache;
  std::vector<float> q, out;
  AttnState st;
  MlaAttention attn;
  const MlaShape shape{H, 128, 64, 128, 512, 0.0625f};
  if (variant == 0) {
    mla = std::make_unique<MlaSetup>(shape, 1, context, dtype);
    // The cache once, kv_b (W_UK and W_UV) once; Q·K over 576 and P·V over 512 per head and key,
    // plus the two absorptions (256 x 512 per head).
    bytes = static_cast<double>(mla->cache.bytes_per_token()) * (context + 1) + mla->kv_b.size() * 2.0;
    flops = 2.0 * H * (context + 1) * (576 + 512) + 2.0 * H * 256 * 512;
    step = [&] { attn.run(AttnMode::Absorbed, pool(), shape, mla->kv_b_view, mla->cache, 0, mla->q.data(), 1, context, mla->out.data()); };
  } else {
    const int64_t Hkv = variant == 1 ? H : 4, hd = 128;
    cache = std::make_unique<KvCache>(random_cache(2 * Hkv * hd, context + 1, dtype));
    q = random_values(H * hd, 2);
    out.resize(H * hd);
    bytes = static_cast<double>(cache->bytes_per_token()) * (context + 1);
    flops = 2.0 * H * (context + 1) * 2 * hd;
    const AttnShape s{H, Hkv, hd, hd, 0.088f};
    const KvLayout kv = cache->layout(0, context + 1, 0, hd, Hkv * hd, hd);
    step = [&, s, kv] { attend(pool(), s, q.data(), 1, context, kv, st, out.data()); };
  }
  step();  // warm-up
  const auto t0 = std::chrono::steady_clock::now();
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) {
    step();
    benchmark::ClobberMemory();
  }
  const double iters = static_cast<double>(state.iterations());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / iters;
  roofline_counters(state, bytes, flops, read, peak, seconds);
  // The same against CPU time per thread: the step time had the threads had the cores to themselves,
  // steadier than wall time on a machine shared with other builds.
  // FLOPs per CPU-second against the FMA peak per CPU-second: the FLOP side of the roofline measured
  // in CPU time, which other processes' load does not distort (for the flop-bound cases).
  const double cpu = (process_cpu_seconds() - cpu0) / iters / pool().size();
  state.counters["cpu_ms"] = 1e3 * cpu;
  state.counters["cpu_peak_GFLOP/s"] = peak_cpu;
  state.counters["cpu_flop_fraction"] = flops / (peak_cpu * 1e9) / cpu;
  state.SetLabel(std::string(variant == 0 ? "mla-absorbed" : variant == 1 ? "mha" : "gqa") + " " +
                 kv::cache_dtype_name(dtype));
}

void RooflineArgs(benchmark::internal::Benchmark* b) {
  const int64_t f32 = static_cast<int64_t>(kv::CacheDtype::F32), bf16 = static_cast<int64_t>(kv::CacheDtype::BF16);
  for (int64_t dt : {f32, bf16}) {
    b->Args({0, 16, 4096, dt});
    b->Args({0, 16, 32768, dt});
    b->Args({0, 128, 32768, dt});
    b->Args({1, 16, 32768, dt});
    b->Args({2, 16, 32768, dt});
  }
}
BENCHMARK(BM_DecodeRoofline)->Apply(RooflineArgs)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.5);

}  // namespace
}  // namespace mla

BENCHMARK_MAIN();
