// A DeepSeek MoE model split by routed experts across MPI ranks (docs/DISTRIBUTED.md;
// dist/expert_exchange.h says how rows travel, dist/expert_plan.h who holds what). Rank 0 runs the
// command over the model with its share of the experts; the other ranks hold only routed experts and
// answer rank 0's rows until it is done.
#pragma once
#include <memory>
#include <string>

#include "core/thread_pool.h"
#include "model/model.h"

namespace mla::dist {

// Loads this rank's part and prints the plan (rank 0, stderr). Rank 0 gets the model; the other
// ranks serve their experts until rank 0's model is destroyed and then get nullptr. Needs MPI, more
// than one rank and a model with routed experts: mla::Error otherwise.
std::unique_ptr<Model> open_expert_split(const std::string& path, ThreadPool& pool, const LoadOptions& opts);

}  // namespace mla::dist
