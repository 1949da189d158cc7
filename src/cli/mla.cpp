// The `mla` command: generate, chat, eval, tokenize, inspect, kv, bench, quantize, convert, serve.
#include <cstdio>
#include <exception>
#include <string>

#include "commands.h"
#include "core/error.h"
#include "dist/mpi.h"

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
    mla::dist::init(&argc, &argv);  // MPI, when started by mpirun (docs/DISTRIBUTED.md)
    if (mla::dist::world().size > 1) {
      // Only these run split across ranks; the others would each run whole (or fight over a port).
      const std::string sub = argc > 1 ? argv[1] : "";
      if (sub != "generate" && sub != "eval" && sub != "chat" && sub != "serve" && sub != "bench")
        mla::fail("'", sub, "' does not run across MPI ranks (generate, eval, chat, serve and bench --model do; "
                  "docs/DISTRIBUTED.md): run it without mpirun");
    }
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    mla::dist::finalize();
    return rc;
  } catch (const std::exception& e) {
    // One rank's error ends them all: none is left waiting for a message that will not come.
    if (mla::dist::world().size > 1) mla::dist::fail_all_ranks(e.what());
    std::fflush(stdout);
    std::fprintf(stderr, "mla: error: %s\n", e.what());
    mla::dist::finalize();
    return 1;
  }
  mla::dist::finalize();
  return 0;
}
