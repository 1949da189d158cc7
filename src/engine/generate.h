// The generation loop for one conversation: prefill the prompt into the latent cache, then sample
// token by token, streaming text, until max tokens, EOS or a stop string.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/text_stream.h"
#include "kv/kv_cache.h"
#include "model/model.h"
#include "sample/sampler.h"
#include "tokenizer/tokenizer.h"

namespace mla {

struct GenerateOptions {
  int64_t max_tokens = 128;
  SamplingParams sampling;
  std::vector<std::string> stop;  // generation ends before the first occurrence of any of these
  bool ignore_eos = false;
  AttnMode attn = AttnMode::Auto;
};

struct GenerateResult {
  std::vector<int32_t> ids;   // generated ids (a stop string's tokens included, EOS excluded)
  std::string text;           // generated text, cut before a stop string
  std::string finish_reason;  // "stop" (EOS or stop string) | "length"
  int64_t prompt_tokens = 0;  // tokens actually run in prefill (after reusing the cached prefix)
  int64_t decode_steps = 0;   // single-token forward passes run while generating
  double prefill_seconds = 0, decode_seconds = 0;
};

// A conversation's state: the model, its cache and the tokens the cache holds. Consecutive calls
// reuse the longest common prefix of the cached tokens (multi-turn chat re-sends the history).
class Session {
 public:
  // The cache holds max_context tokens in `kv_type` (the library's default is exact f32, as the
  // reference tests use it; the mla commands default to bf16, as `mla serve` does).
  Session(Model& model, int64_t max_context, kv::CacheDtype kv_type = kv::CacheDtype::F32);

  // on_text receives text as it completes (UTF-8 safe); tokenizer may be null (ids only).
  GenerateResult generate(const std::vector<int32_t>& prompt, const GenerateOptions& opts, const Tokenizer* tok,
                          const std::function<void(std::string_view)>& on_text = {});

  const KvCache& cache() const { return cache_; }

 private:
  Model& model_;
  KvCache cache_;
  std::vector<int32_t> cached_;  // the tokens whose latents are in cache_
  std::vector<float> logits_;
};

}  // namespace mla
