// A model split by layers across MPI ranks (docs/DISTRIBUTED.md). Every rank loads only its stage
// (model/model.h: Stage): rank 0 embeds, each stage's output rows [T x hidden] f32 go to the next
// rank, the last rank applies the final norm and head and sends the logits back to rank 0.
//
// Rank 0 runs the command as usual on a Model (pipeline_model.h) whose forward() and decode_batch()
// first send the step (pipeline_step.h: tokens, cache positions and block tables, attention path)
// to the other ranks; they sit in a loop serving their stage until rank 0's model is destroyed. So
// `generate`, `eval`, `chat` and `serve` run unchanged on rank 0. Sends do not wait for their
// receiver (outbox.h), so several steps (micro-batches) can be in flight down the pipeline.
#pragma once
#include <memory>
#include <string>

#include "core/thread_pool.h"
#include "model/model.h"

namespace mla::dist {

// Loads this rank's stage of the model at `path` and prints the plan
// (rank 0, stderr). `split_layers`: "0-13,14-26" or "" for the plan that balances weight bytes.
// `micro_batches`: the most groups a decode step is split into (pipeline_model.h); 0 (not given) or
// 1: off. Off by default: on one 2-vCPU machine it measured slower (docs/DISTRIBUTED.md).
// Rank 0 gets the model that drives the pipeline; the other ranks serve their stage until rank 0
// is done and then get nullptr: the command has nothing left to do there.
// Needs MPI and more than one rank: mla::Error otherwise.
std::unique_ptr<Model> open_pipeline(const std::string& path, ThreadPool& pool, const LoadOptions& opts,
                                     const std::string& split_layers, int64_t micro_batches);

}  // namespace mla::dist
