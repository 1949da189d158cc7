// mla generate: stream a completion of a prompt, then print the run's numbers.
#include <cstdio>
#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "core/error.h"

namespace mla::cli {

void register_generate(CLI::App& app) {
  struct Opts {
    ModelFlags model;
    std::string prompt, tokens, json_out, kv_type = kDefaultKvType;
    int64_t context = 0;
    bool no_bos = false;
    GenerateOptions gen;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("generate", "complete a prompt, streaming the text");
  add_model_flags(cmd, o->model);
  add_split_flag(cmd, o->model);
  auto* p = cmd->add_option("-p,--prompt", o->prompt, "prompt text");
  cmd->add_option("--tokens", o->tokens, "prompt as comma-separated token ids instead of text")->excludes(p);
  cmd->add_option("-c,--context", o->context, "context length to reserve (default: prompt + max tokens)");
  cmd->add_flag("--no-bos", o->no_bos, "do not prepend the BOS token to a text prompt");
  cmd->add_option("--json-out", o->json_out, "also write ids, text and timings as JSON");
  add_kv_type_flag(cmd, o->kv_type, "cache element format: f32 | bf16 (default) | f16 | fp8 | q8_0");
  add_sampling_flags(cmd, o->gen);
  cmd->callback([o] {
    const kv::CacheDtype kv_type = parse_kv_type(o->kv_type);
    if (o->prompt.empty() && o->tokens.empty()) fail("generate: give -p PROMPT or --tokens IDS");
    o->gen.attn = parse_attn_mode(o->model.attn);
    std::unique_ptr<Tokenizer> tok = open_tokenizer(o->model.dir, !o->prompt.empty());
    std::vector<int32_t> prompt;
    ThreadPool pool(o->model.threads);
    if (o->tokens.empty()) {
      try {
        prompt = tok->encode(o->prompt);  // validates UTF-8 before the model is loaded
      } catch (const Error& e) {
        fail("--prompt: ", e.what());
      }
    } else {
      prompt = parse_token_list(o->tokens, "--tokens");
    }
    auto model = open_model_split(o->model, pool);
    if (!model) return;  // an MPI rank > 0: it served its pipeline stage until rank 0 finished
    const ModelConfig& cfg = model->config();
    if (!o->tokens.empty()) check_token_ids(prompt, cfg.vocab_size, "--tokens");
    if (o->tokens.empty() && !o->no_bos && cfg.bos_token_id) prompt.insert(prompt.begin(), *cfg.bos_token_id);
    const int64_t context = o->context > 0 ? o->context : static_cast<int64_t>(prompt.size()) + o->gen.max_tokens;

    Session session(*model, context, kv_type);
    GenerateResult r = session.generate(prompt, o->gen, tok.get(), [](std::string_view text) {
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
    });
    std::printf("\n");
    std::fflush(stdout);

    const KvCache& cache = session.cache();
    const double decode_tps = r.decode_steps > 0 ? r.decode_steps / r.decode_seconds : 0.0;
    std::fprintf(stderr,
                 "prompt tokens:    %lld\n"
                 "generated tokens: %zu (%s)\n"
                 "prefill:          %.1f tok/s (%.3f s)\n"
                 "decode:           %.1f tok/s (%lld steps, %.3f s)\n"
                 "KV cache:         %s; %s for %lld tokens\n"
                 "peak memory:      %s (RSS, including mapped weights)\n",
                 static_cast<long long>(r.prompt_tokens), r.ids.size(), r.finish_reason.c_str(),
                 r.prompt_tokens / r.prefill_seconds, r.prefill_seconds, decode_tps,
                 static_cast<long long>(r.decode_steps), r.decode_seconds, describe_kv_cache(cache, cfg).c_str(),
                 human_bytes(cache.bytes_used()).c_str(),
                 static_cast<long long>(cache.n_tokens()), human_bytes(peak_rss_bytes()).c_str());
    if (!o->json_out.empty()) {
      nlohmann::json j = {{"prompt_ids", prompt},
                          {"ids", r.ids},
                          {"text", r.text},
                          {"finish_reason", r.finish_reason},
                          {"prompt_tokens", r.prompt_tokens},
                          {"prefill_tok_s", r.prompt_tokens / r.prefill_seconds},
                          {"decode_tok_s", decode_tps},
                          {"kv_type", kv::cache_dtype_name(cache.dtype())},
                          {"kv_bytes_per_token", cache.bytes_per_token()},
                          {"peak_rss_bytes", peak_rss_bytes()}};
      std::ofstream out(o->json_out);
      if (!out) fail(o->json_out, ": cannot open for writing");
      out << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
  });
}

}  // namespace mla::cli
