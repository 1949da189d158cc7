#include "bench/model_bench.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <span>

#include "core/error.h"
#include "kernels/matmul.h"
#include "sample/sampler.h"

namespace mla::bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Speed does not depend on which tokens run, so any ids in [0, vocab) will do; a fixed seed keeps
// runs comparable (MoE routing, hence the experts read, follows the ids).
std::vector<int32_t> random_tokens(int64_t n, int64_t vocab, std::mt19937_64& rng) {
  std::uniform_int_distribution<int32_t> id(0, static_cast<int32_t>(vocab - 1));
  std::vector<int32_t> out(static_cast<size_t>(n));
  for (int32_t& t : out) t = id(rng);
  return out;
}

// The cache a whole run needs: the deepest depth plus the longest test.
int64_t cache_tokens(const ModelBenchOptions& o) {
  const int64_t longest = std::max(*std::max_element(o.prompt_tokens.begin(), o.prompt_tokens.end()), o.decode_tokens);
  return *std::max_element(o.depths.begin(), o.depths.end()) + longest;
}

// The cache filled with a prefix of one random sequence, `valid` tokens of which are intact.
// Tests write at positions depth.., so rows below the depth they ran at are never overwritten and a
// shallower depth is reached by truncation; a deeper one prefills only the missing tokens.
struct DepthCache {
  KvCache cache;
  std::vector<int32_t> fill;
  int64_t valid = 0;

  void reach(Model& model, int64_t depth, AttnMode mode, float* logits) {
    cache.set_n_tokens(std::min(depth, valid));
    if (depth > valid) model.forward(std::span(fill).subspan(valid, depth - valid), cache, mode, false, logits);
    valid = depth;
  }
};

// pp<P>: one forward over the prompt as Session::generate prefills it (chunked inside forward,
// logits of the last position only).
double time_prefill(Model& model, KvCache& cache, int64_t depth, std::span<const int32_t> prompt, AttnMode mode,
                    float* logits) {
  cache.set_n_tokens(depth);
  const auto t0 = Clock::now();
  model.forward(prompt, cache, mode, false, logits);
  return seconds_since(t0);
}

// tg<N>: N steps of Session::generate's decode loop with greedy sampling: one single-token forward
// through the cache with last-position logits, then the argmax of those logits is the next token.
double time_decode(Model& model, KvCache& cache, int64_t depth, int32_t first, int64_t n, AttnMode mode,
                   std::span<float> logits, Sampler& greedy) {
  cache.set_n_tokens(depth);
  int32_t id = first;
  const auto t0 = Clock::now();
  for (int64_t i = 0; i < n; ++i) {
    model.forward(std::span(&id, 1), cache, mode, false, logits.data());
    id = greedy.sample(logits, {});
  }
  return seconds_since(t0);
}

// Mean and sample standard deviation (n - 1; 0 for one repetition) of tokens / seconds per rep.
void summarize(ModelBenchResult& r) {
  std::vector<double> tps;
  for (double s : r.seconds) tps.push_back(static_cast<double>(r.tokens) / s);
  const double n = static_cast<double>(tps.size());
  double sum = 0, sq = 0;
  for (double v : tps) sum += v;
  r.tps_mean = sum / n;
  for (double v : tps) sq += (v - r.tps_mean) * (v - r.tps_mean);
  r.tps_sd = tps.size() > 1 ? std::sqrt(sq / (n - 1)) : 0.0;
}

// "15.7B", "2.52M", "48.3K": parameter counts for the header line.
std::string human_count(double n) {
  const char* unit = n >= 1e9 ? "B" : n >= 1e6 ? "M" : n >= 1e3 ? "K" : "";
  const double v = n >= 1e9 ? n / 1e9 : n >= 1e6 ? n / 1e6 : n >= 1e3 ? n / 1e3 : n;
  char buf[32];
  std::snprintf(buf, sizeof buf, v >= 100 || !*unit ? "%.0f%s" : v >= 10 ? "%.1f%s" : "%.2f%s", v, unit);
  return buf;
}

std::string quant_name(DType t) {
  std::string s = dtype_name(t);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string pad(const std::string& s, size_t width, bool left) {
  const std::string fill(width > s.size() ? width - s.size() : 0, ' ');
  return left ? s + fill : fill + s;
}

std::string fixed2(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

}  // namespace

void check_model_bench_options(const ModelBenchOptions& o, int64_t max_context) {
  if (o.prompt_tokens.empty()) fail("-p: give at least one prompt length");
  for (int64_t p : o.prompt_tokens)
    if (p <= 0) fail("-p: prompt lengths must be positive, got ", p);
  if (o.decode_tokens < 0) fail("-n: tokens to decode must be >= 0 (0 skips decode), got ", o.decode_tokens);
  if (o.depths.empty()) fail("-d: give at least one depth");
  for (int64_t d : o.depths)
    if (d < 0) fail("-d: depths must be >= 0, got ", d);
  if (o.reps <= 0) fail("-r: repetitions must be positive, got ", o.reps);
  const int64_t depth = *std::max_element(o.depths.begin(), o.depths.end());
  // Compared without adding: the sum of two huge flags would overflow.
  auto fits = [&](const char* flag, int64_t tokens) {
    if (depth > max_context - tokens)
      fail("-d ", depth, " + ", flag, " ", tokens, " tokens exceed the model's context of ", max_context,
           " (max_position_embeddings)");
  };
  fits("-p", *std::max_element(o.prompt_tokens.begin(), o.prompt_tokens.end()));
  fits("-n", o.decode_tokens);
}

std::vector<ModelBenchResult> run_model_bench(Model& model, const ModelBenchOptions& o,
                                              const std::function<void(const std::string&)>& progress,
                                              ReadProbe* read_probe, ReadProbe* file_probe) {
  const ModelConfig& cfg = model.config();
  check_model_bench_options(o, cfg.max_position_embeddings);
  std::mt19937_64 rng(o.seed);
  const int64_t max_depth = *std::max_element(o.depths.begin(), o.depths.end());
  DepthCache dc{model.make_cache(cache_tokens(o), o.kv_type), random_tokens(max_depth, cfg.vocab_size, rng)};
  std::vector<std::vector<int32_t>> prompts;
  for (int64_t p : o.prompt_tokens) prompts.push_back(random_tokens(p, cfg.vocab_size, rng));
  const int32_t first = random_tokens(1, cfg.vocab_size, rng)[0];
  std::vector<float> logits(static_cast<size_t>(cfg.vocab_size));
  Sampler greedy(SamplingParams{});

  std::vector<ModelBenchResult> out;
  // One untimed warm-up run, then the timed repetitions; `run` times one run at `depth`.
  auto measure = [&](const std::string& kind, int64_t tokens, int64_t depth, const std::function<double()>& run) {
    ModelBenchResult r;
    r.test = str(kind == "prefill" ? "pp" : "tg", tokens);
    r.kind = kind;
    r.tokens = tokens;
    r.depth = depth;
    const std::string tag = str(r.test, " @ d", r.depth);
    progress(str(tag, ": warm-up"));
    run();
    const bool probe = read_probe != nullptr && kind == "decode";
    uint64_t weight_bytes = 0;
    for (int rep = 0; rep < o.reps; ++rep) {
      const uint64_t before = weight_bytes_read();
      r.seconds.push_back(run());
      weight_bytes += weight_bytes_read() - before;
      if (probe) r.read_gbps = std::max(r.read_gbps, read_probe->pass());
      if (probe && file_probe) r.file_read_gbps = std::max(r.file_read_gbps, file_probe->pass());
      progress(str(tag, ": rep ", rep + 1, "/", o.reps, " ", fixed2(r.tokens / r.seconds.back()), " t/s"));
    }
    summarize(r);
    if (probe) {
      r.weight_bytes_per_token = static_cast<double>(weight_bytes) / static_cast<double>(o.reps * tokens);
      r.weight_gbps = r.weight_bytes_per_token * r.tps_mean / 1e9;
    }
    out.push_back(std::move(r));
  };
  for (int64_t depth : o.depths) {
    if (depth > dc.valid) progress(str("filling the cache to depth ", depth, " (untimed)"));
    dc.reach(model, depth, o.attn, logits.data());
    for (const auto& prompt : prompts) {
      const auto P = static_cast<int64_t>(prompt.size());
      measure("prefill", P, depth, [&] {
        return time_prefill(model, dc.cache, depth, prompt, o.attn, logits.data());
      });
    }
    if (o.decode_tokens == 0) continue;
    measure("decode", o.decode_tokens, depth, [&] {
      return time_decode(model, dc.cache, depth, first, o.decode_tokens, o.attn, logits, greedy);
    });
  }
  return out;
}

std::string format_model_bench_table(const ModelBenchReport& r) {
  const ModelBenchOptions& o = r.options;
  std::string out = str("model: ", r.model, " | ", r.architecture, " | ", human_count(static_cast<double>(r.n_params)),
                        " params | ", r.weights, " | threads ", r.threads, " | attn ", attn_mode_name(o.attn), " | kv ",
                        kv::cache_dtype_name(o.kv_type), "\n");
  // "mean ± sd" with both parts aligned; widths in characters ("±" is two bytes of UTF-8).
  size_t test_w = 13, depth_w = 7, mean_w = 0, sd_w = 0;
  for (const ModelBenchResult& x : r.results) {
    test_w = std::max(test_w, x.test.size());
    mean_w = std::max(mean_w, fixed2(x.tps_mean).size());
    sd_w = std::max(sd_w, fixed2(x.tps_sd).size());
  }
  const size_t tps_w = std::max<size_t>(10, mean_w + 3 + sd_w);
  mean_w = tps_w - 3 - sd_w;
  const bool bw = std::any_of(r.results.begin(), r.results.end(), [](const ModelBenchResult& x) { return x.read_gbps > 0; });
  const bool fbw = std::any_of(r.results.begin(), r.results.end(), [](const ModelBenchResult& x) { return x.file_read_gbps > 0; });
  out += str("| ", pad("test", test_w, true), " | ", pad("depth", depth_w, false), " | ", pad("t/s", tps_w, false), " |",
             bw ? " weights GB/s | % of read |" : "", fbw ? " % of file read |" : "", "\n");
  auto share = [](double gbps, double of, size_t width) {
    return str(" ", pad(of > 0 ? str(fixed2(100 * gbps / of), "%") : "", width, false), " |");
  };
  for (const ModelBenchResult& x : r.results) {
    out += str("| ", pad(x.test, test_w, true), " | ", pad(std::to_string(x.depth), depth_w, false), " | ",
               pad(fixed2(x.tps_mean), mean_w, false), " ± ", pad(fixed2(x.tps_sd), sd_w, false), " |");
    if (bw) out += str(" ", pad(x.read_gbps > 0 ? fixed2(x.weight_gbps) : "", 12, false), " |", share(x.weight_gbps, x.read_gbps, 9));
    if (fbw) out += share(x.weight_gbps, x.file_read_gbps, 14);
    out += "\n";
  }
  if (bw) out += "weights GB/s: weight bytes one token reads x t/s; % of read: of the best read-probe pass between the reps\n";
  if (fbw)
    out += "% of file read: of the best pass between the reps that reads the weights' own pages (the model's files, mapped)\n";
  return out;
}

std::string model_bench_json(const ModelBenchReport& r) {
  // ordered_json keeps the documented key order for people reading the file.
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (const ModelBenchResult& x : r.results) {
    nlohmann::ordered_json row = {{"test", x.test},       {"kind", x.kind},     {"tokens", x.tokens},
                                  {"depth", x.depth},     {"reps", x.seconds.size()}, {"tps_mean", x.tps_mean},
                                  {"tps_sd", x.tps_sd},   {"seconds", x.seconds}};
    if (x.read_gbps > 0) {
      row["weight_bytes_per_token"] = x.weight_bytes_per_token;
      row["weight_gbps"] = x.weight_gbps;
      row["read_gbps"] = x.read_gbps;
    }
    if (x.file_read_gbps > 0) row["file_read_gbps"] = x.file_read_gbps;
    results.push_back(row);
  }
  const nlohmann::ordered_json j = {{"engine", "mla"},
                                    {"model", r.model},
                                    {"threads", r.threads},
                                    {"attn", attn_mode_name(r.options.attn)},
                                    {"kv_type", kv::cache_dtype_name(r.options.kv_type)},
                                    {"quant", r.quant ? nlohmann::ordered_json(quant_name(*r.quant)) : nullptr},
                                    {"results", results}};
  return j.dump(2) + "\n";
}

void write_model_bench_json(const ModelBenchReport& r, const std::string& path) {
  std::ofstream f(path);
  if (!f) fail(path, ": cannot open for writing");
  f << model_bench_json(r);
  if (!f.flush()) fail(path, ": write failed");
}

}  // namespace mla::bench
