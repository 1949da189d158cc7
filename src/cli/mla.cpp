// The `mla` command: generate, chat, eval, tokenize, inspect, kv, bench, quantize, convert, serve.
#include <cstdio>
#include <exception>

#include "commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"mla: an inference engine for DeepSeek-family models built around Multi-head Latent Attention"};
  app.require_subcommand(1);
  mla::cli::register_generate(app);
  mla::cli::register_chat(app);
  mla::cli::register_eval(app);
  mla::cli::register_tokenize(app);
  mla::cli::register_inspect(app);
  mla::cli::register_kv(app);
  mla::cli::register_bench(app);
  mla::cli::register_quantize(app);
  mla::cli::register_convert(app);
  mla::cli::register_serve(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "mla: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
