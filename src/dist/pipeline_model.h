// Rank 0's side of a pipeline split by layers (docs/DISTRIBUTED.md): a Model that computes the
// first stage and, around it, tells the other ranks each step (pipeline_step.h) and takes the
// logits back from the last one. Every entry point the callers use (forward for generate, eval,
// chat and the serving engine's prefill chunks; decode_batch for the engine's batched decoding)
// goes through it, so they run unchanged on rank 0.
//
// Micro-batches: decode_batch over B sequences runs as up to M steps of consecutive groups of them,
// all sent before the first one's logits are awaited. Rank 0 computes group g + 1's first stage
// while rank 1 computes group g's layers, and so on down the pipeline, so that the ranks work at
// once instead of one after the other: a step takes about (M + N - 1) / M stage-times over N equal
// stages, against N without. A forward's prefill chunks (model/row_batches.h) already flow like
// this within its one step: each stage sends a chunk's rows on without waiting and goes on with
// the next chunk.
//
// How steps travel is a StepTransport: MPI between ranks (pipeline.cpp), or a plain function call
// into the other stages in one process (tests).
#pragma once
#include <memory>

#include "dist/pipeline_step.h"
#include "model/model.h"

namespace mla::dist {

class StepTransport {
 public:
  virtual ~StepTransport() = default;
  // Before the first stage runs: `step` to every other rank. Its step_logits() floats will land in
  // `logits` (null when none are wanted), which must stay valid until its finish_step. Several
  // steps may be in flight: each is sent before the first stage's rows of it.
  virtual void send_step(const Step& step, float* logits) = 0;
  // The oldest step in flight, whose first stage has run (and sent its rows on): waits until its
  // logits are in place.
  virtual void finish_step() = 0;
  // A step failed half-way on this rank. The other ranks wait for rows that will not come and no
  // rank can resume from there: over MPI this ends every rank with `what`; a transport that returns
  // lets the error propagate.
  virtual void step_failed(const char* what) = 0;
};

// `first`: the first stage's model. `micro_batches` (>= 1; 1: off): the most groups a decode_batch is
// split into. Destroying the result sends a quit step (the other ranks leave their loop).
std::unique_ptr<Model> make_pipeline_model(std::unique_ptr<Model> first, std::unique_ptr<StepTransport> transport,
                                           int64_t micro_batches);

}  // namespace mla::dist
