// The `mla` subcommands. Each lives in its own src/cli/cmd_<name>.cpp and registers itself on the
// CLI11 app; its callback throws mla::Error on bad input, which main() prints as one line.
#pragma once
#include <CLI/CLI.hpp>

namespace mla::cli {

void register_generate(CLI::App& app);
void register_chat(CLI::App& app);
void register_eval(CLI::App& app);
void register_tokenize(CLI::App& app);
void register_inspect(CLI::App& app);
void register_kv(CLI::App& app);
void register_bench(CLI::App& app);
// `mla bench gemm`, under the bench command (threads: its -t).
void register_bench_gemm(CLI::App* bench, const int& threads);
void register_quantize(CLI::App& app);
void register_convert(CLI::App& app);
void register_serve(CLI::App& app);

}  // namespace mla::cli
