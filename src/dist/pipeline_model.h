// Rank 0's side of a pipeline split by layers (docs/DISTRIBUTED.md): a Model that computes the
// first stage and, around it, tells the other ranks each step (pipeline_step.h) and takes the
// logits back from the last one. Every entry point the callers use (forward for generate, eval,
// chat and the serving engine's prefill chunks; decode_batch for the engine's batched decoding)
// goes through it, so they run unchanged on rank 0.
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
  // Before the first stage runs: `step` to every other rank.
  virtual void send_step(const Step& step) = 0;
  // After the first stage has run (and sent its rows on): the step's step_logits() floats from the
  // last rank into `logits` (null when none are wanted).
  virtual void finish_step(const Step& step, float* logits) = 0;
  // A step failed half-way on this rank. The other ranks wait for rows that will not come and no
  // rank can resume from there: over MPI this ends every rank with `what`; a transport that returns
  // lets the error propagate.
  virtual void step_failed(const char* what) = 0;
};

// `first`: the first stage's model. Destroying the result sends a quit step (the other ranks
// leave their loop).
std::unique_ptr<Model> make_pipeline_model(std::unique_ptr<Model> first, std::unique_ptr<StepTransport> transport);

}  // namespace mla::dist
