// mla chat: interactive multi-turn chat with the model's chat template. The conversation's cache
// is kept between turns; each turn only runs the tokens that are new.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "tokenizer/chat_template.h"

namespace mla::cli {

void register_chat(CLI::App& app) {
  struct Opts {
    ModelFlags model;
    std::string system, family, kv_type = kDefaultKvType;
    int64_t context = 4096;
    GenerateOptions gen;
  };
  auto o = std::make_shared<Opts>();
  o->gen.max_tokens = 512;
  CLI::App* cmd = app.add_subcommand("chat", "interactive multi-turn chat (/reset clears, /exit or Ctrl-D ends)");
  add_model_flags(cmd, o->model);
  add_split_flag(cmd, o->model);
  cmd->add_option("--system", o->system, "system prompt");
  cmd->add_option("--template", o->family, "use this built-in template (deepseek-v3 | deepseek-r1) whatever tokenizer_config.json says");
  cmd->add_option("-c,--context", o->context, "context length to reserve")->check(CLI::Range(int64_t{16}, int64_t{1} << 24));
  add_kv_type_flag(cmd, o->kv_type, "cache element format: f32 | bf16 (default) | f16 | fp8 | q8_0");
  add_sampling_flags(cmd, o->gen);
  cmd->callback([o] {
    o->gen.attn = parse_attn_mode(o->model.attn);
    const kv::CacheDtype kv_type = parse_kv_type(o->kv_type);
    auto tok = open_tokenizer(o->model.dir, true);
    std::optional<ChatFamily> force;
    if (!o->family.empty()) force = parse_chat_family(o->family);
    const ChatTemplate chat = open_chat_template(o->model.dir, *tok, force);
    ThreadPool pool(o->model.threads);
    auto model = open_model_split(o->model, pool);
    if (!model) return;  // an MPI rank > 0: it served its pipeline stage until rank 0 finished
    Session session(*model, o->context, kv_type);
    const KvCache& cache = session.cache();
    std::fprintf(stderr, "KV cache: %s; room for %lld tokens = %s\n", describe_kv_cache(cache, model->config()).c_str(),
                 static_cast<long long>(cache.max_tokens()),
                 human_bytes(cache.bytes_per_token() * static_cast<size_t>(cache.max_tokens())).c_str());
    std::vector<ChatMessage> messages;
    if (!o->system.empty()) messages.push_back({"system", o->system});
    const bool tty = ::isatty(STDIN_FILENO);
    std::string line;
    for (;;) {
      if (tty) std::fprintf(stderr, "\n> ");
      if (!std::getline(std::cin, line) || line == "/exit") break;
      if (line == "/reset") {
        messages.resize(o->system.empty() ? 0 : 1);
        continue;
      }
      if (line.empty()) continue;
      messages.push_back({"user", line});
      const std::vector<int32_t> prompt = tok->encode(chat.render(messages, true));
      if (chat.opens_think()) std::printf("<think>\n");  // the template opened the reasoning block
      GenerateResult r = session.generate(prompt, o->gen, tok.get(), [](std::string_view text) {
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fflush(stdout);
      });
      std::printf("\n");
      std::fflush(stdout);
      std::fprintf(stderr, "[%zu tokens, %.1f tok/s, cache %lld tokens = %s]\n", r.ids.size(),
                   r.decode_steps > 0 ? r.decode_steps / r.decode_seconds : 0.0,
                   static_cast<long long>(cache.n_tokens()), human_bytes(cache.bytes_used()).c_str());
      // R1's template keeps only the answer of earlier replies; give it the whole reply to cut.
      messages.push_back({"assistant", (chat.opens_think() ? "<think>\n" : "") + r.text});
    }
  });
}

}  // namespace mla::cli
