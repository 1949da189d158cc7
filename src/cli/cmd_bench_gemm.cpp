// mla bench gemm: prefill products per weight format against the peak of the instruction each runs on
// (bench/gemm_bench.h).
#include <cstdio>
#include <memory>

#include "bench/gemm_bench.h"
#include "commands.h"
#include "common.h"
#include "core/error.h"

namespace mla::cli {

void register_bench_gemm(CLI::App* bench, const int& threads) {
  struct Opts {
    bench::GemmOptions g;
    std::string formats = "bf16,q8_0,q4_0";
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = bench->add_subcommand("gemm", "prefill matrix products per weight format against their instruction's peak");
  cmd->add_option("--rows", o->g.rows, "rows of the weight matrix")->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--cols", o->g.cols, "columns (a multiple of 32)")->check(CLI::Range(int64_t{32}, int64_t{1} << 20));
  cmd->add_option("-n,--rows-in", o->g.n, "input rows (prompt tokens in one chunk)")->check(CLI::Range(int64_t{1}, int64_t{1} << 16));
  cmd->add_option("--passes", o->g.passes, "timed rounds (best kept)")->check(CLI::Range(1, 1000));
  cmd->add_option("--formats", o->formats, "comma-separated: bf16,q8_0,q4_0");
  cmd->callback([o, &threads] {
    require_one_process("'bench gemm'");
    o->g.formats = parse_weight_formats(o->formats, "--formats");
    ThreadPool pool(threads);
    const bench::GemmReport r = bench::run_gemm_bench(o->g, pool, [](const std::string& line) {
      std::fprintf(stderr, "%s\n", line.c_str());
    });
    std::printf("%s", bench::format_gemm_table(r).c_str());
  });
}

}  // namespace mla::cli
