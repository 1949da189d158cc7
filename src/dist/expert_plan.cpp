#include "dist/expert_plan.h"

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "core/error.h"
#include "core/human_bytes.h"

namespace mla::dist {

std::vector<ExpertShare> balance_experts(const ModelBytes& bytes, const ModelConfig& cfg, int n_ranks) {
  const int64_t E = cfg.n_routed_experts.value_or(0);
  if (E == 0 || bytes.routed_experts == 0)
    fail("--split experts: the model has no routed experts (MoE layers); split it by layers instead");
  if (n_ranks < 2) fail("--split experts: ", n_ranks, " ranks; an expert split needs 2 or more");
  if (E < n_ranks - 1)
    fail("--split experts: ", E, " routed experts cannot be shared by ", n_ranks - 1, " ranks besides rank 0");
  const uint64_t total = std::accumulate(bytes.layer.begin(), bytes.layer.end(), bytes.embed + bytes.head);
  const uint64_t rest = total - bytes.routed_experts;  // rank 0's whatever its share
  // Every expert of a layer has the same shape and type, so each id carries the same bytes summed
  // over the MoE layers (up to the rounding of this division).
  const uint64_t per_expert = bytes.routed_experts / static_cast<uint64_t>(E);
  const int64_t others = n_ranks - 1;
  auto largest = [&](int64_t on_rank0) {
    const int64_t left = E - on_rank0, most = (left + others - 1) / others;
    return std::max(rest + per_expert * on_rank0, per_expert * most);
  };
  int64_t best = 0;
  for (int64_t c = 1; c <= E - others; ++c)
    if (largest(c) < largest(best)) best = c;

  std::vector<ExpertShare> plan(n_ranks);
  plan[0] = {0, best, rest + per_expert * best};
  int64_t next = best;
  for (int r = 1; r < n_ranks; ++r) {
    const int64_t left = E - next, ranks_left = n_ranks - r;
    const int64_t count = (left + ranks_left - 1) / ranks_left;  // larger shares first
    plan[r] = {next, next + count, per_expert * count};
    next += count;
  }
  return plan;
}

std::string format_expert_plan(const std::vector<ExpertShare>& plan, const ModelConfig& cfg, kv::CacheDtype dtype) {
  std::string out;
  char line[256];
  const uint64_t kv = cache_row_bytes(cfg, dtype) * static_cast<uint64_t>(cfg.num_hidden_layers);
  std::snprintf(line, sizeof line, "%-5s %-13s %14s %18s\n", "rank", "experts", "weights", "KV bytes/token");
  out += line;
  for (size_t r = 0; r < plan.size(); ++r) {
    const ExpertShare& s = plan[r];
    const std::string experts = s.expert_end == s.expert_begin
                                    ? std::string("none")
                                    : std::to_string(s.expert_begin) + "-" + std::to_string(s.expert_end - 1);
    const std::string what = r == 0 ? experts + " +rest" : experts;
    const std::string kv_col = r == 0 ? std::to_string(kv) + " (" + kv::cache_dtype_name(dtype) + ")" : "0";
    std::snprintf(line, sizeof line, "%-5zu %-13s %14s %18s\n", r, what.c_str(), human_bytes(s.weight_bytes).c_str(),
                  kv_col.c_str());
    out += line;
  }
  return out;
}

}  // namespace mla::dist
