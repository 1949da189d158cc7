// Log-probabilities of a token under the model's distribution, for the API's `logprobs`: the
// log-softmax of the raw logits (before penalties, temperature and filters; vLLM's default).
#pragma once
#include <cstdint>
#include <span>

#include "engine/engine.h"

namespace mla {

// info.logprob = log p(id); info.top = the `top` most likely tokens, most likely first (ties: lower id).
// logits: [vocab], unchanged.
TokenInfo token_logprobs(std::span<const float> logits, int32_t id, int32_t top);

}  // namespace mla
