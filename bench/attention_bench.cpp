// Naive against absorbed MLA at DeepSeek-V2-Lite's attention shape (16 heads, kv_lora 512, rope 64,
// nope 128, v 128), for prefill and for decode at several context depths. Its numbers are what
// `--attn auto` is based on (docs/ATTENTION_PATHS.md). Decode attention against the machine's
// roofline is `mla bench attention` (bench/attention_roofline.h).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <vector>

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

}  // namespace
}  // namespace mla

BENCHMARK_MAIN();
