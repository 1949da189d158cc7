#include "model/row_batches.h"

#include <algorithm>
#include <vector>

#include "core/error.h"

namespace mla {

void forward_in_chunks(std::span<const int32_t> tokens, KvCache& cache, bool all_logits, float* logits,
                       int64_t vocab_size, const ForwardRows& rows) {
  if (tokens.empty()) fail("forward: no tokens");
  if (cache.n_tokens() + static_cast<int64_t>(tokens.size()) > cache.max_tokens())
    fail("context full: ", cache.n_tokens(), " + ", tokens.size(), " tokens exceed the context of ", cache.max_tokens());
  for (size_t c0 = 0; c0 < tokens.size(); c0 += kChunkRows) {
    const int64_t n = static_cast<int64_t>(std::min<size_t>(kChunkRows, tokens.size() - c0));
    const bool last = c0 + n == tokens.size();
    const SeqRows seq{&cache, 0, n};
    float* out = !logits ? nullptr : all_logits ? logits + c0 * vocab_size : (last ? logits : nullptr);
    rows(tokens.subspan(c0, n), {&seq, 1}, all_logits, out);
  }
}

void decode_in_batches(std::span<const int32_t> tokens, std::span<KvCache* const> caches, float* logits,
                       int64_t vocab_size, const ForwardRows& rows) {
  if (tokens.size() != caches.size()) fail("decode_batch: ", tokens.size(), " tokens for ", caches.size(), " caches");
  std::vector<SeqRows> seqs;
  for (size_t b = 0; b < caches.size(); ++b) {
    if (caches[b]->n_tokens() >= caches[b]->max_tokens())
      fail("context full: sequence ", b, " holds ", caches[b]->n_tokens(), " tokens");
    seqs.push_back({caches[b], static_cast<int64_t>(b), 1});
  }
  for (size_t c0 = 0; c0 < tokens.size(); c0 += kChunkRows) {
    const size_t n = std::min<size_t>(kChunkRows, tokens.size() - c0);
    std::vector<SeqRows> chunk(seqs.begin() + c0, seqs.begin() + c0 + n);
    for (auto& s : chunk) s.begin -= static_cast<int64_t>(c0);
    rows(tokens.subspan(c0, n), chunk, true, logits ? logits + c0 * vocab_size : nullptr);
  }
}

}  // namespace mla
