// One step of a pipeline split by layers (docs/DISTRIBUTED.md), as rank 0 describes it to the
// other ranks before its rows travel: which entry point of the model runs (forward of one
// sequence's tokens, or decode_batch of one token for each of B sequences), the tokens, and for
// each sequence what a rank needs to find that sequence's rows in its own cache of its own layers.
//
// Rank 0 owns the cache's bookkeeping (the serving engine's block manager, or one private cache).
// Every rank mirrors rank 0's block arena: the same number of blocks of the same size and element
// format, each block holding only that rank's layers' rows. Block id b then names the same tokens on
// every rank, so a sequence's block table and cache position, sent with each step, are all a rank
// needs: allocation, freeing, prefix sharing and preemption on rank 0 need no message of their own
// (a freed block's rows are simply written again by whoever gets it next, on every rank alike).
//
// No MPI here (src/dist/pipeline.cpp carries the encoded step); tests run it in one process.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "kv/kv_cache.h"
#include "model/model.h"

namespace mla::dist {

enum class StepOp : int64_t { Quit = 0, Forward = 1, DecodeBatch = 2 };

// The shape of rank 0's block arena (KvBlockArena; a private cache is one block of its context).
struct ArenaShape {
  int64_t n_blocks = 0, block_tokens = 0;
  kv::CacheDtype dtype = kv::CacheDtype::F32;
  bool operator==(const ArenaShape&) const = default;
};

// One sequence's cache as rank 0 holds it before the step.
struct SeqCache {
  int64_t n_tokens = 0;              // tokens already cached: the step's rows start at this position
  int64_t max_tokens = 0;            // its context
  std::vector<int32_t> block_table;  // block ids in rank 0's arena
};

struct Step {
  StepOp op = StepOp::Quit;
  AttnMode mode = AttnMode::Auto;
  bool all_logits = false;   // Forward: logits for every row, not just the last
  bool want_logits = false;  // rank 0 wants the logits back (the last rank sends them)
  ArenaShape arena;
  std::vector<int32_t> tokens;  // Forward: T tokens of seqs[0]; DecodeBatch: tokens[b] for seqs[b]
  std::vector<SeqCache> seqs;
};

// Rank 0's side: the step of Model::forward / Model::decode_batch over its caches (which must share
// one arena: mla::Error otherwise).
Step describe_forward(std::span<const int32_t> tokens, const KvCache& cache, AttnMode mode, bool all_logits,
                      bool want_logits);
Step describe_decode(std::span<const int32_t> tokens, std::span<KvCache* const> caches, AttnMode mode);
Step quit_step();
// A DecodeBatch step as min(groups, B) steps over consecutive groups of its sequences, sizes
// differing by one at most (the micro-batches of pipeline_model.h); `groups` >= 1.
std::vector<Step> split_decode(const Step& step, int64_t groups);

// The step as a flat array of int64 for the transport, and back. decode_step checks every length
// and value against the array (mla::Error naming what is wrong).
std::vector<int64_t> encode_step(const Step& step);
Step decode_step(std::span<const int64_t> msg);

// Floats of logits the step returns: [T x vocab] (all_logits), [vocab] (Forward), [B x vocab]
// (DecodeBatch); 0 when rank 0 wants none.
int64_t step_logits(const Step& step, int64_t vocab_size);

// Another rank's mirror of rank 0's cache: one arena of this stage's layers shaped like rank 0's
// (rebuilt, empty, when rank 0's shape changes: a new private cache of another size or format),
// and views into it carrying rank 0's block tables and positions.
class MirrorCache {
 public:
  // Runs `step` through `stage` on the mirrored cache. logits: step_logits() floats, or null.
  void run(Model& stage, const Step& step, float* logits);

 private:
  std::shared_ptr<KvBlockArena> arena_;
  ArenaShape shape_;
  std::vector<KvCache> views_;
};

}  // namespace mla::dist
