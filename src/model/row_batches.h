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

constexpr int64_t kChunkRows = 256;

// Runs T rows through the model: appends each sequence's keys/values to its cache and advances it.
// logits: [T x vocab] when all_logits, else [vocab] for the last row, or null for none.
using ForwardRows = std::function<void(std::span<const int32_t> tokens, std::span<const SeqRows> seqs,
                                       bool all_logits, float* logits)>;

// Model::forward: checks the context has room, then runs `tokens` in chunks.
void forward_in_chunks(std::span<const int32_t> tokens, KvCache& cache, bool all_logits, float* logits,
                       int64_t vocab_size, const ForwardRows& rows);
// Model::decode_batch: tokens[b] appended to *caches[b]; logits [B x vocab].
void decode_in_batches(std::span<const int32_t> tokens, std::span<KvCache* const> caches, float* logits,
                       int64_t vocab_size, const ForwardRows& rows);

}  // namespace mla
