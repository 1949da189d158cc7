// Naive against absorbed MLA attention at DeepSeek-V2-Lite's attention shape (16 heads, kv_lora 512,
// rope 64, nope 128, v 128), for prefill and for decode at several context depths. Its numbers are
// what `--attn auto` is based on (docs/ATTENTION_PATHS.md).
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "model/mla_attention.h"

namespace mla {
namespace {

constexpr MlaShape kShape{16, 128, 64, 128, 512, 0.0625f};

struct Setup {
  std::vector<uint16_t> kv_b;  // bf16, as checkpoints store it
  Matrix kv_b_view;
  KvCache cache;
  std::vector<float> q, out;

  Setup(int64_t T, int64_t context)
      : kv_b(kShape.n_head * (kShape.qk_nope_head_dim + kShape.v_head_dim) * kShape.kv_lora_rank),
        cache(1, kShape.kv_lora_rank + kShape.qk_rope_head_dim, context + T),
        q(T * kShape.n_head * (kShape.qk_nope_head_dim + kShape.qk_rope_head_dim)),
        out(T * kShape.n_head * kShape.v_head_dim) {
    std::mt19937 rng(1);
    std::normal_distribution<float> d(0.0f, 0.05f);
    for (auto& v : kv_b) v = f32_to_bf16(d(rng));
    kv_b_view = Matrix{DType::BF16, kShape.n_head * (kShape.qk_nope_head_dim + kShape.v_head_dim), kShape.kv_lora_rank,
                       reinterpret_cast<const uint8_t*>(kv_b.data()), nullptr};
    std::vector<float> row(cache.row_width());
    for (int64_t t = 0; t < context + T; ++t) {
      for (float& v : row) v = d(rng);
      cache.write_row(0, t, row.data());
    }
    for (auto& v : q) v = d(rng);
  }
};

// args: mode (0 naive, 1 absorbed, 2 auto), T new tokens, context already cached
void BM_MlaAttention(benchmark::State& state) {
  const auto mode = static_cast<AttnMode>(state.range(0));
  const int64_t T = state.range(1), context = state.range(2);
  Setup s(T, context);
  ThreadPool pool;
  MlaAttention attn;
  for (auto _ : state) {
    attn.run(mode, pool, kShape, s.kv_b_view, s.cache, 0, s.q.data(), T, context, s.out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * T);
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * mla_attention_flops(mode == AttnMode::Auto ? resolve_attn_mode(mode, kShape, T, context) : mode, kShape, T, context) * state.iterations(), benchmark::Counter::kIsRate);
  state.SetLabel(std::string(attn_mode_name(mode)) + (T == 1 ? " decode" : " prefill"));
}

void Args(benchmark::internal::Benchmark* b) {
  for (int mode : {0, 1, 2}) {
    b->Args({mode, 256, 0});   // prefill of a 256-token prompt
    b->Args({mode, 1, 512});   // decode at depth 512
    b->Args({mode, 1, 4096});  // decode at depth 4096
  }
}
BENCHMARK(BM_MlaAttention)->Apply(Args)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace mla

BENCHMARK_MAIN();
