// mla eval: logits of every position as raw little-endian float32 [positions x vocab], from one
// prefill or token by token through the cache. How anyone checks the engine against another
// implementation; needs no tokenizer.
#include <cstdio>
#include <memory>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "kv/kv_accounting.h"

namespace mla::cli {

void register_eval(CLI::App& app) {
  struct Opts {
    ModelFlags model;
    std::string tokens, tokens_file, logits_out, kv_type = kDefaultKvType;
    bool decode = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("eval", "write the logits of every position as float32 [positions x vocab]");
  add_model_flags(cmd, o->model);
  add_split_flag(cmd, o->model);
  auto* tok_opt = cmd->add_option("--tokens", o->tokens, "comma-separated token ids");
  cmd->add_option("--tokens-file", o->tokens_file, "file of token ids")->excludes(tok_opt);
  cmd->add_option("--logits-out", o->logits_out, "output file")->required();
  add_kv_type_flag(cmd, o->kv_type, "cache element format: f32 (exact) | bf16 (default) | f16 | fp8 | q8_0");
  cmd->add_flag("--decode", o->decode, "one token at a time through the cache (the first as a one-token prefill)");
  cmd->callback([o] {
    if (o->tokens.empty() && o->tokens_file.empty()) fail("eval: give --tokens or --tokens-file");
    const std::vector<int32_t> ids =
        o->tokens.empty() ? read_token_file(o->tokens_file) : parse_token_list(o->tokens, "--tokens");
    const kv::CacheDtype kv_type = parse_kv_type(o->kv_type);
    ThreadPool pool(o->model.threads);
    auto model = open_model_split(o->model, pool);
    if (!model) return;  // an MPI rank > 0: it served its pipeline stage until rank 0 finished
    const int64_t V = model->config().vocab_size, T = static_cast<int64_t>(ids.size());
    check_token_ids(ids, V, o->tokens.empty() ? o->tokens_file : "--tokens");
    const AttnMode mode = parse_attn_mode(o->model.attn);
    KvCache cache = model->make_cache(T, kv_type);
    std::vector<float> logits(static_cast<size_t>(T) * V);
    if (o->decode) {
      for (int64_t t = 0; t < T; ++t)
        model->forward(std::span<const int32_t>(&ids[t], 1), cache, mode, false, logits.data() + t * V);
    } else {
      model->forward(ids, cache, mode, true, logits.data());
    }
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(o->logits_out.c_str(), "wb"), std::fclose);
    if (!f) fail(o->logits_out, ": cannot open for writing");
    if (std::fwrite(logits.data(), sizeof(float), logits.size(), f.get()) != logits.size())
      fail(o->logits_out, ": write failed");
  });
}

}  // namespace mla::cli
