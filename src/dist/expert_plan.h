// The expert split's plan (docs/DISTRIBUTED.md): rank 0 holds everything but the routed experts
// (embedding, attention, dense layers, shared experts, head, the whole KV cache) and a share of the
// routed experts; the other ranks hold only routed experts. Every MoE layer is split at the same
// expert ids. Pure arithmetic over stored byte counts, no MPI: `mla inspect --ranks N --split
// experts` plans machines on any build.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "dist/pipeline_plan.h"
#include "kv/kv_accounting.h"
#include "model/config.h"

namespace mla::dist {

struct ExpertShare {
  int64_t expert_begin = 0, expert_end = 0;  // routed experts [begin, end) of every MoE layer
  uint64_t weight_bytes = 0;                 // those experts, plus everything else on rank 0
};

// Consecutive expert ranges, one per rank, that make the largest rank's weight bytes as small as
// possible (rank 0 carries the rest of the model, so it takes fewer experts); the other ranks'
// counts differ by one at most. mla::Error for a model without routed experts or with fewer
// routed experts than ranks besides rank 0.
std::vector<ExpertShare> balance_experts(const ModelBytes& bytes, const ModelConfig& cfg, int n_ranks);

// The plan as a table: rank, experts, weight bytes, KV bytes per token (at `dtype`; rank 0's).
std::string format_expert_plan(const std::vector<ExpertShare>& plan, const ModelConfig& cfg, kv::CacheDtype dtype);

}  // namespace mla::dist
