#include "engine/generate.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "core/error.h"

namespace mla {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Session::Session(Model& model, int64_t max_context, kv::CacheDtype kv_type)
    : model_(model), cache_(model.make_cache(max_context, kv_type)), logits_(model.config().vocab_size) {}

GenerateResult Session::generate(const std::vector<int32_t>& prompt, const GenerateOptions& opts,
                                 const Tokenizer* tok, const std::function<void(std::string_view)>& on_text) {
  if (prompt.empty()) fail("the prompt is empty");
  if (opts.max_tokens < 0) fail("max tokens must be >= 0, got ", opts.max_tokens);
  if (static_cast<int64_t>(prompt.size()) + opts.max_tokens > cache_.max_tokens())
    fail("prompt (", prompt.size(), " tokens) + max tokens (", opts.max_tokens, ") exceed the context of ",
         cache_.max_tokens(), " tokens");
  GenerateResult res;
  // Reuse the cached prefix, but always run at least the last prompt token to get its logits.
  size_t keep = 0;
  while (keep < cached_.size() && keep + 1 < prompt.size() && cached_[keep] == prompt[keep]) ++keep;
  cached_.resize(keep);
  cache_.set_n_tokens(static_cast<int64_t>(keep));

  const auto t0 = std::chrono::steady_clock::now();
  std::span<const int32_t> fresh(prompt.data() + keep, prompt.size() - keep);
  model_.forward(fresh, cache_, opts.attn, false, logits_.data());
  cached_.insert(cached_.end(), fresh.begin(), fresh.end());
  res.prompt_tokens = static_cast<int64_t>(fresh.size());
  res.prefill_seconds = seconds_since(t0);

  Sampler sampler(opts.sampling);
  std::vector<int32_t> history = prompt;
  // Any of the config's end-of-sequence ids ends generation (Llama-3-Instruct lists several).
  const ModelConfig& cfg = model_.config();
  auto is_eos = [&cfg](int32_t id) {
    return (cfg.eos_token_id && id == *cfg.eos_token_id) ||
           std::find(cfg.eos_token_ids.begin(), cfg.eos_token_ids.end(), id) != cfg.eos_token_ids.end();
  };
  std::optional<TextStream> text;
  if (tok) text.emplace(*tok, opts.stop);
  auto release = [&](const std::string& piece) {
    res.text += piece;
    if (on_text && !piece.empty()) on_text(piece);
  };
  res.finish_reason = "length";
  const auto t1 = std::chrono::steady_clock::now();
  for (int64_t n = 0; n < opts.max_tokens; ++n) {
    const int32_t id = sampler.sample(logits_, history, prompt.size());
    if (!opts.ignore_eos && is_eos(id)) {
      res.finish_reason = "stop";
      break;
    }
    res.ids.push_back(id);
    history.push_back(id);
    if (text) {
      release(text->push(id));
      if (text->stopped()) {
        res.finish_reason = "stop";
        break;
      }
    }
    if (n + 1 == opts.max_tokens) break;  // the last token needs no forward pass
    const int32_t step[1] = {id};
    model_.forward(step, cache_, opts.attn, false, logits_.data());
    cached_.push_back(id);
    ++res.decode_steps;
  }
  if (text) release(text->finish());
  res.decode_seconds = seconds_since(t1);
  return res;
}

}  // namespace mla
