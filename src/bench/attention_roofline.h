// `mla bench attention`: one layer's decode attention over a deep cache, per variant and cache dtype,
// against this machine's roofline: floor = max(bytes / read bandwidth, FLOPs / peak), with the
// ceilings measured in the same run. The peak is the f32 FMA's, except for the FLOPs that run on
// AVX512_BF16 `vdpbf16ps` (absorbed MLA's Q·K and P·V over a bf16, fp8 or q8_0 cache,
// kernels/attention.h: attention_uses_bf16_dot),
// which count against that instruction's peak. Every round times one read pass, the peak passes and
// each case back to back, so on a shared, noisy machine the ceilings and the kernels see the same
// load; the best of the rounds is kept for each (as `mla bench gemv` does).
//
// Cases, at DeepSeek's attention shapes (kv_lora 512, rope 64, nope 128, v 128; MHA / GQA heads of 128):
//   mla-absorbed  16 heads (V2-Lite) and 128 heads (V2 / V3): the latent cache once, kv_b_proj
//                 (W_UK, W_UV in bf16) once, Q·K over 576 and P·V over 512 per head and token, plus
//                 the two absorptions;
//   mha           16 heads, K and V per head;   gqa  16 query heads over 4 K/V heads.
// The cache is paged like the serving engine's (blocks of --block-tokens rows, engine/engine.h).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kv/kv_accounting.h"

namespace mla::bench {

struct AttnRooflineOptions {
  int64_t context = 32768;  // cached tokens the step attends over (plus the new one)
  std::vector<kv::CacheDtype> dtypes = {kv::CacheDtype::BF16, kv::CacheDtype::F32};
  int64_t block_tokens = 16;
  int rounds = 5;
  double min_case_seconds = 0.05;     // each case repeats its step for at least this long per round
  size_t read_buffer_bytes = size_t{512} << 20;  // the read-bandwidth probe's buffer (>> last-level cache)
};

struct AttnRooflineCase {
  std::string variant;
  int64_t heads = 0, kv_heads = 0;
  kv::CacheDtype dtype = kv::CacheDtype::F32;
  double bytes = 0, flops = 0;  // per step
  double dot_flops = 0;         // the part of flops on vdpbf16ps
  double seconds = 1e30;        // best step time over the rounds
};

struct AttnRooflineReport {
  AttnRooflineOptions opts;
  int threads = 0;
  double read_gbps = 0, peak_gflops = 0;  // best over the rounds
  double dot_peak_gflops = 0;             // vdpbf16ps, where a case uses it
  std::vector<AttnRooflineCase> cases;

  double flop_seconds(const AttnRooflineCase& c) const {
    const double dot = c.dot_flops > 0 ? c.dot_flops / (dot_peak_gflops * 1e9) : 0.0;
    return (c.flops - c.dot_flops) / (peak_gflops * 1e9) + dot;
  }
  double floor_seconds(const AttnRooflineCase& c) const {
    return std::max(c.bytes / (read_gbps * 1e9), flop_seconds(c));
  }
  double fraction(const AttnRooflineCase& c) const { return floor_seconds(c) / c.seconds; }
};

AttnRooflineReport run_attention_roofline(const AttnRooflineOptions& o, ThreadPool& pool,
                                          const std::function<void(const std::string&)>& progress);
std::string format_attention_roofline(const AttnRooflineReport& r);

}  // namespace mla::bench
