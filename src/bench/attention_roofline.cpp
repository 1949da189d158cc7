#include "bench/attention_roofline.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <numeric>
#include <random>

#include "bench/roofline.h"
#include "core/error.h"
#include "core/human_bytes.h"
#include "kernels/attention.h"
#include "kv/kv_blocks.h"
#include "kv/kv_cache.h"
#include "model/mla_attention.h"
#include "tensor/dtype.h"

namespace mla::bench {
namespace {

constexpr int64_t kLora = 512, kRope = 64, kNope = 128, kVHead = 128, kHeadDim = 128;

std::vector<float> random_values(size_t n, uint64_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 0.05f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// `tokens` rows in blocks of `block_tokens`, block table 0, 1, 2, ... (as a fresh engine hands them
// out). The same 4096 random rows repeat: the values do not change the speed.
std::unique_ptr<KvCache> paged_cache(int64_t row_width, int64_t tokens, int64_t block_tokens, kv::CacheDtype dtype) {
  const int64_t blocks = (tokens + block_tokens - 1) / block_tokens;
  auto cache = std::make_unique<KvCache>(std::make_shared<KvBlockArena>(1, row_width, blocks, block_tokens, dtype), tokens);
  cache->block_table().resize(blocks);
  std::iota(cache->block_table().begin(), cache->block_table().end(), 0);
  const int64_t distinct = std::min<int64_t>(tokens, 4096);
  const std::vector<float> rows = random_values(distinct * row_width, 1);
  for (int64_t t = 0; t < tokens; ++t) cache->write_row(0, t, rows.data() + (t % distinct) * row_width);
  cache->set_n_tokens(tokens);
  return cache;
}

// One decode step of one layer: the new token's query against `context` cached tokens.
struct Workload {
  virtual ~Workload() = default;
  virtual void step(ThreadPool& pool) = 0;
};

// Absorbed MLA as the model runs it (model/mla_attention.h), kv_b_proj in bf16 as checkpoints store it.
struct MlaWorkload : Workload {
  MlaShape shape;
  int64_t context;
  std::vector<uint16_t> kv_b;
  Matrix kv_b_view;
  std::unique_ptr<KvCache> cache;
  std::vector<float> q, out;
  MlaAttention attn;

  MlaWorkload(int64_t heads, int64_t ctx, int64_t block_tokens, kv::CacheDtype dtype)
      : shape{heads, kNope, kRope, kVHead, kLora, 0.0625f},
        context(ctx),
        kv_b(heads * (kNope + kVHead) * kLora),
        cache(paged_cache(kLora + kRope, ctx + 1, block_tokens, dtype)),
        q(random_values(heads * (kNope + kRope), 2)),
        out(heads * kVHead) {
    const std::vector<float> w = random_values(kv_b.size(), 3);
    for (size_t i = 0; i < w.size(); ++i) kv_b[i] = f32_to_bf16(w[i]);
    kv_b_view = Matrix{DType::BF16, heads * (kNope + kVHead), kLora, reinterpret_cast<const uint8_t*>(kv_b.data()), nullptr};
  }
  void step(ThreadPool& pool) override {
    attn.run(AttnMode::Absorbed, pool, shape, kv_b_view, *cache, 0, q.data(), 1, context, out.data());
  }
};

// The MHA / GQA core over per-head K and V rows: [K (kv_heads x 128) ; V (kv_heads x 128)] per token.
struct HeadsWorkload : Workload {
  AttnShape shape;
  int64_t context;
  std::unique_ptr<KvCache> cache;
  KvLayout kv;
  std::vector<float> q, out;
  AttnState state;

  HeadsWorkload(int64_t heads, int64_t kv_heads, int64_t ctx, int64_t block_tokens, kv::CacheDtype dtype)
      : shape{heads, kv_heads, kHeadDim, kHeadDim, 0.088f},
        context(ctx),
        cache(paged_cache(2 * kv_heads * kHeadDim, ctx + 1, block_tokens, dtype)),
        kv(cache->layout(0, ctx + 1, 0, kHeadDim, kv_heads * kHeadDim, kHeadDim)),
        q(random_values(heads * kHeadDim, 2)),
        out(heads * kHeadDim) {}
  void step(ThreadPool& pool) override { attend(pool, shape, q.data(), 1, context, kv, state, out.data()); }
};

struct Case {
  AttnRooflineCase info;
  std::unique_ptr<Workload> work;
};

Case mla_case(int64_t heads, const AttnRooflineOptions& o, kv::CacheDtype dtype) {
  auto w = std::make_unique<MlaWorkload>(heads, o.context, o.block_tokens, dtype);
  const double tokens = static_cast<double>(o.context + 1);
  AttnRooflineCase c{"mla-absorbed", heads, 1, dtype, 0, 0};
  c.bytes = static_cast<double>(w->cache->bytes_per_token()) * tokens + static_cast<double>(w->kv_b.size()) * 2;
  const double core = 2.0 * heads * tokens * ((kLora + kRope) + kLora);  // Q·K over 576, P·V over 512
  c.flops = core + 2.0 * heads * (kNope + kVHead) * kLora;                 // + the two absorptions
  const AttnShape core_shape{heads, 1, kLora + kRope, kLora, 1.0f};  // the MQA the absorbed step runs
  if (attention_uses_bf16_dot(core_shape, w->cache->layout(0, o.context + 1, 0, 0, 0, 0))) c.dot_flops = core;
  return {c, std::move(w)};
}

Case heads_case(const char* name, int64_t heads, int64_t kv_heads, const AttnRooflineOptions& o, kv::CacheDtype dtype) {
  auto w = std::make_unique<HeadsWorkload>(heads, kv_heads, o.context, o.block_tokens, dtype);
  const double tokens = static_cast<double>(o.context + 1);
  AttnRooflineCase c{name, heads, kv_heads, dtype, 0, 0};
  c.bytes = static_cast<double>(w->cache->bytes_per_token()) * tokens;
  c.flops = 2.0 * heads * tokens * 2 * kHeadDim;
  return {c, std::move(w)};
}

// Seconds per step: the step repeated for at least `min_seconds` (and at least twice).
double time_step(Workload& w, ThreadPool& pool, double min_seconds) {
  const auto t0 = std::chrono::steady_clock::now();
  int64_t steps = 0;
  double t = 0;
  do {
    w.step(pool);
    ++steps;
    t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (steps < 2 || t < min_seconds);
  return t / static_cast<double>(steps);
}

}  // namespace

AttnRooflineReport run_attention_roofline(const AttnRooflineOptions& o, ThreadPool& pool,
                                          const std::function<void(const std::string&)>& progress) {
  if (o.context < 1 || o.block_tokens < 1 || o.rounds < 1) fail("attention bench: context, block tokens and rounds must be >= 1");
  AttnRooflineReport rep{o, pool.size(), 0, 0, 0, {}};
  std::vector<Case> cases;
  for (kv::CacheDtype dt : o.dtypes) {
    progress(str("building ", kv::cache_dtype_name(dt), " caches of ", o.context + 1, " tokens"));
    cases.push_back(mla_case(16, o, dt));
    cases.push_back(mla_case(128, o, dt));
    cases.push_back(heads_case("mha", 16, 16, o, dt));
    cases.push_back(heads_case("gqa", 16, 4, o, dt));
  }
  ReadProbe read(pool, o.read_buffer_bytes);
  PeakProbe peak(pool);
  const bool any_dot = std::any_of(cases.begin(), cases.end(), [](const Case& c) { return c.info.dot_flops > 0; });
  std::unique_ptr<PeakProbe> dot_peak = any_dot ? std::make_unique<PeakProbe>(pool, PeakInstr::Bf16Dot) : nullptr;
  for (int r = 0; r <= o.rounds; ++r) {  // round 0 warms up (page faults, pool threads), untimed
    progress(r == 0 ? std::string("warm-up round") : str("round ", r, " of ", o.rounds));
    const double gbps = read.pass(), gflops = peak.pass(), dot_gflops = dot_peak ? dot_peak->pass() : 0.0;
    if (r > 0) {
      rep.read_gbps = std::max(rep.read_gbps, gbps);
      rep.peak_gflops = std::max(rep.peak_gflops, gflops);
      rep.dot_peak_gflops = std::max(rep.dot_peak_gflops, dot_gflops);
    }
    for (Case& c : cases) {
      const double t = time_step(*c.work, pool, r == 0 ? 0.0 : o.min_case_seconds);
      if (r > 0) c.info.seconds = std::min(c.info.seconds, t);
    }
  }
  for (Case& c : cases) rep.cases.push_back(c.info);
  return rep;
}

std::string format_attention_roofline(const AttnRooflineReport& r) {
  const AttnRooflineOptions& o = r.opts;
  char line[256];
  std::snprintf(line, sizeof line, "decode attention, one layer over %lld cached tokens in blocks of %lld, %d threads, %s\n",
                static_cast<long long>(o.context), static_cast<long long>(o.block_tokens), r.threads, kernel_isa());
  std::string out = line;
  std::snprintf(line, sizeof line,
                "ceilings, same run (interleaved, best of %d rounds): read %.1f GB/s, f32 FMA peak %.1f GFLOP/s",
                o.rounds, r.read_gbps, r.peak_gflops);
  out += line;
  if (r.dot_peak_gflops > 0) {
    std::snprintf(line, sizeof line, ", vdpbf16ps peak %.1f GFLOP/s (mla-absorbed's Q·K and P·V over bf16, fp8, q8_0)",
                  r.dot_peak_gflops);
    out += line;
  }
  out += "\n";
  std::snprintf(line, sizeof line, "%-13s %5s %3s %5s %11s %8s %7s %8s %9s %5s %8s %9s\n", "variant", "heads", "kv",
                "cache", "bytes/step", "best ms", "GB/s", "GFLOP/s", "floor ms", "bound", "x floor", "roofline");
  out += line;
  for (const AttnRooflineCase& c : r.cases) {
    const bool flop_bound = r.flop_seconds(c) >= c.bytes / (r.read_gbps * 1e9);
    std::snprintf(line, sizeof line, "%-13s %5lld %3lld %5s %11s %8.3f %7.1f %8.1f %9.3f %5s %7.2fx %8.0f%%\n",
                  c.variant.c_str(), static_cast<long long>(c.heads), static_cast<long long>(c.kv_heads),
                  kv::cache_dtype_name(c.dtype), human_bytes(static_cast<size_t>(c.bytes)).c_str(), c.seconds * 1e3,
                  c.bytes / c.seconds / 1e9, c.flops / c.seconds / 1e9, r.floor_seconds(c) * 1e3,
                  flop_bound ? "FLOPs" : "bytes", c.seconds / r.floor_seconds(c), 100 * r.fraction(c));
    out += line;
  }
  return out;
}

}  // namespace mla::bench
