// How a model's forward pass over rows (tokens of one or more sequences, see SeqRows) is driven,
// the same for every architecture:
//   prefill: a prompt in chunks of at most kChunkRows tokens, so activation memory stays bounded at
//            any prompt length;
//   decode:  one token for each of B sequences as rows of one pass, so every weight matrix is read
//            once for the whole batch (in chunks of kChunkRows sequences).
#pragma once
#include <cstdint>
#include <functional>
#include <span>

#include "kv/kv_cache.h"
#include "model/model.h"

namespace mla {

// 1024: each chunk re-expands the prefix's keys once (naive MLA), so longer chunks amortize it;
// measured on a V2-Lite-shaped BF16 model, 4096-token prompt: 256 rows 512 tok/s, 1024 666, 2048 598
// (activations past L2/L3). Activations: ~1024 x 4 x (3 x MLP width) bytes, ~135 MB at V2-Lite's.
constexpr int64_t kChunkRows = 1024;

// Runs T rows through the model: appends each sequence's keys/values to its cache and advances it.
// logits: [T x vocab] when all_logits, else [vocab] for the last row, or null for none.
using ForwardRows = std::function<void(std::span<const int32_t> tokens, std::span<const SeqRows> seqs,
                                       bool all_logits, float* logits)>;

// Model::forward: checks the context has room, then runs `tokens` in chunks.
void forward_in_chunks(std::span<const int32_t> tokens, KvCache& cache, bool all_logits, float* logits,
                       int64_t vocab_size, const ForwardRows& rows);
// Model::decode_batch: tokens[b] appended to *caches[b]; logits [B x vocab], or null for none (a
// pipeline stage before the last).
void decode_in_batches(std::span<const int32_t> tokens, std::span<KvCache* const> caches, float* logits,
                       int64_t vocab_size, const ForwardRows& rows);

}  // namespace mla
