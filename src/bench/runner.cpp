#include "bench/runner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

#include "bench/roofline.h"
#include "core/error.h"
#include "model/model.h"
#include "model/converted_weights.h"
#include "model/random_weights.h"
#include "model/row_batches.h"

namespace mla::bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Resets the kernel's peak-RSS mark so each variant's peak is its own (Linux: clear_refs "5").
void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

double peak_rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "VmHWM:") {
      double kb = 0;
      in >> kb;
      return kb * 1024;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

// Decode speed does not depend on what the cache holds, so a depth of `context` tokens is reached by
// filling rows with random values rather than by running a long prefill.
void fill_cache(KvCache& cache, int64_t context, uint64_t seed) {
  static std::vector<float> pattern = [] {
    std::vector<float> p(1 << 16);
    std::mt19937 rng(7);
    std::normal_distribution<float> d(0.0f, 1.0f);
    for (float& v : p) v = d(rng);
    return p;
  }();
  const int64_t W = cache.row_width();
  for (int64_t l = 0; l < cache.n_layers(); ++l)
    for (int64_t t = 0; t < context; ++t) {
      const size_t off = static_cast<size_t>((t * 7919 + l * 104729 + seed) % (pattern.size() - W));
      cache.write_row(l, t, pattern.data() + off);
    }
  cache.set_n_tokens(context);
}

struct StepCost {
  double bytes, flops;  // per decoded token
};

// Weights one token multiplies through: the active parameters less the embedding (a lookup).
double matmul_params(const ModelConfig& cfg, const Model& model) {
  return static_cast<double>(model.params().active) - static_cast<double>(cfg.vocab_size) * cfg.hidden_size;
}

// What one decode step must move and compute: every weight matrix once (the embedding contributes
// one row), the whole cache once, and 2 FLOPs per multiply-add. weight_bytes: bytes per weight as
// stored (2 for bf16, 34/32 for Q8_0, 18/32 for Q4_0).
StepCost decode_cost(const ModelConfig& cfg, const Model& model, AttnMode mode, int64_t context, double weight_bytes,
                     kv::CacheDtype kv_type) {
  const double kv = static_cast<double>(model.make_cache(1, kv_type).bytes_per_token()) * context;
  return {matmul_params(cfg, model) * weight_bytes + kv,
          2.0 * (matmul_params(cfg, model) + decode_attention_macs(cfg, mode, context))};
}

// FLOPs of a prefill of T prompt tokens, chunked as forward_in_chunks runs it: every matrix but the
// lm_head for every token (the lm_head only for the last one), attention chunk by chunk on the path
// each chunk resolves to.
double prefill_flops(const ModelConfig& cfg, const Model& model, AttnMode mode, int64_t T) {
  const double lm_head = static_cast<double>(cfg.vocab_size) * cfg.hidden_size;
  double macs = (matmul_params(cfg, model) - lm_head) * T + lm_head;
  for (int64_t p0 = 0; p0 < T; p0 += kChunkRows) macs += attention_macs(cfg, mode, std::min(kChunkRows, T - p0), p0);
  return 2.0 * macs;
}

}  // namespace

BenchReport run_bench(const BenchOptions& o, ThreadPool& pool, const Progress& progress) {
  BenchReport rep;
  rep.preset = o.preset;
  const DType weights = o.quant.value_or(DType::BF16);
  rep.shape = o.shape.describe() + ", weights " + dtype_name(weights) + ", KV cache " + kv::cache_dtype_name(o.kv_type);
  const double weight_bytes = static_cast<double>(dtype_block_bytes(weights)) / static_cast<double>(dtype_block_values(weights));
  progress("measuring the machine's ceilings (read bandwidth, FMA peak)");
  rep.machine = MachineInfo{cpu_name(), kernel_isa(), pool.size(), measure_read_gbps(pool), measure_peak_gflops(pool)};
  progress(str("  read ", static_cast<int>(rep.machine.read_gbps), " GB/s, peak ",
               static_cast<int>(rep.machine.peak_gflops), " GFLOP/s on ", pool.size(), " threads"));

  std::mt19937 rng(1);
  for (size_t vi = 0; vi < o.variants.size(); ++vi) {
    const std::string& variant = o.variants[vi];
    const ModelConfig cfg = variant_config(o.shape, variant);
    const AttnMode mode = variant_attn_mode(variant);
    const std::string tag = str("[", vi + 1, "/", o.variants.size(), "] ", variant);
    reset_peak_rss();
    progress(tag + ": generating weights");
    std::unique_ptr<WeightSource> weights = std::make_unique<RandomWeights>(DType::BF16, 42, pool);
    if (o.quant) weights = std::make_unique<ConvertedWeights>(std::move(weights), *o.quant, pool);
    auto model = build_model(cfg, std::move(weights), pool);
    std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(cfg.vocab_size - 1));
    std::vector<float> logits(cfg.vocab_size);

    // Prefill: one prompt of prompt_tokens, chunked as the engine does.
    std::vector<int32_t> prompt(o.prompt_tokens);
    for (auto& t : prompt) t = tok(rng);
    double prefill_tok_s;
    {
      KvCache cache = model->make_cache(o.prompt_tokens, o.kv_type);
      const auto t0 = Clock::now();
      model->forward(prompt, cache, mode, false, logits.data());
      prefill_tok_s = o.prompt_tokens / seconds(t0);
    }
    const double prefill_gflops = prefill_flops(cfg, *model, mode, o.prompt_tokens) / o.prompt_tokens * prefill_tok_s / 1e9;
    progress(str(tag, ": prefill ", static_cast<int>(prefill_tok_s), " tok/s, ", static_cast<int>(prefill_gflops),
                 " GFLOP/s"));

    const size_t kv_per_token = model->make_cache(1, o.kv_type).bytes_per_token();
    for (int64_t context : o.contexts) {
      BenchRow row;
      row.variant = variant;
      row.context = context;
      row.prefill_tok_s = prefill_tok_s;
      row.prefill_gflops = prefill_gflops;
      row.kv_bytes_per_token = static_cast<double>(kv_per_token);
      row.kv_bytes_total = static_cast<double>(kv_per_token) * context;
      if (row.kv_bytes_total > o.max_kv_bytes) {
        progress(str(tag, " @ ", context, ": skipped, the cache would need more than --max-kv-mem"));
        continue;
      }
      const StepCost cost = decode_cost(cfg, *model, mode, context, weight_bytes, o.kv_type);
      // One step predicted to take over a second: no warm-up step and a single timed step.
      const double predicted = std::max(cost.bytes / (rep.machine.read_gbps * 1e9), cost.flops / (rep.machine.peak_gflops * 1e9));
      const bool slow = predicted > 1.0;
      KvCache cache = model->make_cache(context + o.max_steps + 2, o.kv_type);
      fill_cache(cache, context, vi);
      int32_t next = tok(rng);
      if (!slow) model->forward({&next, 1}, cache, mode, false, logits.data());  // warm-up
      model->reset_attention_seconds();
      int64_t steps = 0;
      const auto t0 = Clock::now();
      do {
        next = tok(rng);
        model->forward({&next, 1}, cache, mode, false, logits.data());
        ++steps;
      } while (!slow && steps < o.max_steps && seconds(t0) < o.min_seconds);
      const double step = seconds(t0) / steps;
      row.decode_tok_s = 1.0 / step;
      row.attention_share = model->attention_seconds() / (step * steps);
      row.achieved_gbps = cost.bytes / step / 1e9;
      row.achieved_gflops = cost.flops / step / 1e9;
      const double t_bytes = cost.bytes / (rep.machine.read_gbps * 1e9), t_flops = cost.flops / (rep.machine.peak_gflops * 1e9);
      row.bound = t_bytes >= t_flops ? "bytes" : "flops";
      row.roofline_fraction = std::max(t_bytes, t_flops) / step;
      row.peak_rss_bytes = peak_rss_bytes();
      progress(str(tag, " @ ", context, ": decode ", row.decode_tok_s, " tok/s, attention ",
                   static_cast<int>(100 * row.attention_share), "% of the step"));
      rep.rows.push_back(row);
    }

    // Equal KV budget: as many sequences of throughput_context tokens as fit, decoding together.
    if (variant == "mla-naive" && !o.throughput_naive) continue;
    ThroughputRow tr;
    tr.variant = variant;
    tr.context = o.throughput_context;
    tr.kv_budget_bytes = o.throughput_budget_bytes;
    const double per_seq = static_cast<double>(kv_per_token) * (o.throughput_context + o.max_steps + 2);
    tr.sequences = std::min<int64_t>(o.max_batch, static_cast<int64_t>(o.throughput_budget_bytes / per_seq));
    if (tr.sequences < 1) {
      progress(str(tag, ": no sequence of ", o.throughput_context, " tokens fits the throughput budget"));
      rep.throughput.push_back(tr);
      continue;
    }
    progress(str(tag, ": batched decode of ", tr.sequences, " sequences x ", o.throughput_context, " tokens"));
    std::vector<KvCache> caches;
    std::vector<KvCache*> ptrs;
    for (int64_t b = 0; b < tr.sequences; ++b) {
      caches.push_back(model->make_cache(o.throughput_context + o.max_steps + 2, o.kv_type));
      fill_cache(caches.back(), o.throughput_context, b);
    }
    for (auto& c : caches) ptrs.push_back(&c);
    std::vector<int32_t> batch(tr.sequences);
    std::vector<float> batch_logits(tr.sequences * cfg.vocab_size);
    for (auto& t : batch) t = tok(rng);
    model->decode_batch(batch, ptrs, mode, batch_logits.data());  // warm-up
    int64_t steps = 0;
    const auto t0 = Clock::now();
    do {
      for (auto& t : batch) t = tok(rng);
      model->decode_batch(batch, ptrs, mode, batch_logits.data());
      ++steps;
    } while (steps < o.max_steps && seconds(t0) < o.min_seconds);
    tr.tok_s = static_cast<double>(tr.sequences) * steps / seconds(t0);
    progress(str(tag, ": ", static_cast<int>(tr.tok_s), " tok/s over ", tr.sequences, " sequences"));
    rep.throughput.push_back(tr);
  }
  return rep;
}

}  // namespace mla::bench
