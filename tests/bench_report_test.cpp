// Bench output: the text tables carry the rows and the ratios to MHA; JSON and CSV read back with
// every field; the roofline probes return sane numbers; gnuplot (when installed) draws both plots.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "bench/attention_roofline.h"
#include "bench/report.h"
#include "bench/roofline.h"
#include "kernels/matmul.h"
#include "core/error.h"

namespace mla::bench {
namespace {

namespace fs = std::filesystem;

BenchRow row(const std::string& variant, int64_t context, double decode, double kv_per_token) {
  BenchRow r;
  r.variant = variant;
  r.context = context;
  r.prefill_tok_s = variant == "mha" ? 200 : 300;
  r.prefill_gflops = variant == "mha" ? 120 : 180;  // of the made-up 300 GFLOP/s peak: 40%, 60%
  r.decode_tok_s = decode;
  r.kv_bytes_per_token = kv_per_token;
  r.kv_bytes_total = kv_per_token * static_cast<double>(context);
  r.peak_rss_bytes = 512.0 * 1024 * 1024;
  r.attention_share = 0.25;
  r.achieved_gbps = 10.5;
  r.achieved_gflops = 3.25;
  r.bound = "bytes";
  r.roofline_fraction = 0.5;
  return r;
}

BenchReport made_up_report() {
  BenchReport r;
  r.machine = {"Test CPU 9000", "avx2", 4, 20.0, 300.0};
  r.preset = "tiny";
  r.shape = "2 layers, d_model 256, 8 heads, kv_lora_rank 64";
  for (int64_t ctx : {0, 512, 4096, 32768}) {
    r.rows.push_back(row("mha", ctx, 100.0, 65536));
    r.rows.push_back(row("gqa", ctx, 150.0, 16384));
    r.rows.push_back(row("mla-absorbed", ctx, 250.0, 2304));
  }
  r.throughput.push_back({"mha", 4096, 1e9, 3, 30.0});
  r.throughput.push_back({"mla-absorbed", 4096, 1e9, 106, 900.0});
  return r;
}

// A private scratch directory for one test, removed afterwards.
struct Scratch {
  fs::path dir;
  Scratch() {
    std::string t = (fs::temp_directory_path() / "mla-bench-test-XXXXXX").string();
    if (!mkdtemp(t.data())) throw std::runtime_error("mkdtemp failed");
    dir = t;
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

std::vector<std::string> lines_of(const fs::path& p) {
  std::ifstream f(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(f, l);) out.push_back(l);
  return out;
}

TEST(BenchReport, TableHasRowsAndRatiosToMha) {
  const std::string t = format_table(made_up_report());
  EXPECT_NE(t.find("Test CPU 9000"), std::string::npos) << t;
  EXPECT_NE(t.find("avx2"), std::string::npos) << t;
  EXPECT_NE(t.find("4 threads"), std::string::npos) << t;
  EXPECT_NE(t.find("tiny"), std::string::npos) << t;
  EXPECT_NE(t.find("kv_lora_rank 64"), std::string::npos) << t;
  EXPECT_NE(t.find("mla-absorbed"), std::string::npos) << t;
  EXPECT_NE(t.find("32768"), std::string::npos) << t;
  EXPECT_NE(t.find("2.50x"), std::string::npos) << t;   // mla-absorbed decode vs mha
  EXPECT_NE(t.find("1.50x"), std::string::npos) << t;   // gqa decode vs mha (and prefill 300/200)
  EXPECT_NE(t.find("30.00x"), std::string::npos) << t;  // throughput at an equal budget
  EXPECT_NE(t.find("64.0 KiB"), std::string::npos) << t;  // mha KV bytes per token
  EXPECT_NE(t.find("2.00 GiB"), std::string::npos) << t;  // mha KV at 32K: 64 KiB x 32768
  EXPECT_NE(t.find("954 MiB"), std::string::npos) << t;   // the 1e9-byte budget
  EXPECT_NE(t.find("prefill"), std::string::npos) << t;
  const std::string prefill = t.substr(t.find("\nprefill"));
  EXPECT_NE(prefill.find("40.0%"), std::string::npos) << prefill;  // mha prefill against the FMA peak
  EXPECT_NE(prefill.find("60.0%"), std::string::npos) << prefill;
  EXPECT_NE(t.find("throughput"), std::string::npos) << t;

  // The 12 decode rows appear, one per line (each ends in its bound and roofline percentage).
  std::istringstream in(t);
  int decode_lines = 0;
  for (std::string l; std::getline(in, l);)
    if (l.find("bytes") != std::string::npos && l.find("%") != std::string::npos) ++decode_lines;
  EXPECT_EQ(decode_lines, 12) << t;
}

TEST(BenchReport, TableWithoutMhaShowsNoRatio) {
  BenchReport r = made_up_report();
  std::erase_if(r.rows, [](const BenchRow& x) { return x.variant == "mha"; });
  r.throughput.clear();
  const std::string t = format_table(r);
  EXPECT_EQ(t.find("2.50x"), std::string::npos) << t;
  EXPECT_EQ(t.find("throughput"), std::string::npos) << t;
}

TEST(BenchReport, JsonReadsBackWithRequiredKeys) {
  Scratch s;
  const fs::path p = s.dir / "bench.json";
  write_json(made_up_report(), p.string());
  std::ifstream f(p);
  const auto j = nlohmann::json::parse(f);
  for (const char* k : {"cpu", "isa", "threads", "read_gbps", "peak_gflops"}) EXPECT_TRUE(j["machine"].contains(k)) << k;
  EXPECT_EQ(j["machine"]["threads"], 4);
  EXPECT_EQ(j["preset"], "tiny");
  EXPECT_TRUE(j.contains("shape"));
  ASSERT_EQ(j["rows"].size(), 12u);
  for (const char* k : {"variant", "context", "prefill_tok_s", "decode_tok_s", "kv_bytes_per_token", "kv_bytes_total",
                        "peak_rss_bytes", "attention_share", "achieved_gbps", "achieved_gflops", "bound",
                        "roofline_fraction", "prefill_gflops"})
    EXPECT_TRUE(j["rows"][0].contains(k)) << k;
  EXPECT_EQ(j["rows"][11]["variant"], "mla-absorbed");
  EXPECT_EQ(j["rows"][11]["context"], 32768);
  EXPECT_DOUBLE_EQ(j["rows"][11]["decode_tok_s"].get<double>(), 250.0);
  ASSERT_EQ(j["throughput"].size(), 2u);
  EXPECT_EQ(j["throughput"][1]["sequences"], 106);
}

TEST(BenchReport, CsvHasHeaderAndRows) {
  Scratch s;
  const fs::path p = s.dir / "bench.csv";
  write_csv(made_up_report(), p.string());
  const auto rows = lines_of(p);
  ASSERT_EQ(rows.size(), 13u);
  EXPECT_EQ(rows[0].rfind("variant,context,prefill_tok_s,decode_tok_s,", 0), 0u) << rows[0];
  EXPECT_EQ(rows[1].rfind("mha,0,200,100,65536,0,", 0), 0u) << rows[1];
  const auto tp = lines_of(s.dir / "bench-throughput.csv");
  ASSERT_EQ(tp.size(), 3u);
  EXPECT_EQ(tp[0], "variant,context,kv_budget_bytes,sequences,tok_s");
  EXPECT_EQ(tp[2], "mla-absorbed,4096,1000000000,106,900");
}

TEST(BenchReport, WritingToAMissingDirectoryThrows) {
  EXPECT_THROW(write_json(made_up_report(), "/nonexistent-dir/x.json"), Error);
  EXPECT_THROW(write_csv(made_up_report(), "/nonexistent-dir/x.csv"), Error);
}

TEST(Roofline, ProbesReturnPositiveFiniteNumbers) {
  ThreadPool pool(2);
  const double gbps = measure_read_gbps(pool, size_t{64} << 20);
  EXPECT_TRUE(std::isfinite(gbps) && gbps > 0) << gbps;
  const double gflops = measure_peak_gflops(pool);
  EXPECT_TRUE(std::isfinite(gflops) && gflops > 0) << gflops;
  const std::string isa = kernel_isa();
  const std::set<std::string> names = {"avx512f+vnni", "avx512f", "avx512f (portable kernels)", "avx2+fma", "x86-64"};
  EXPECT_TRUE(names.count(isa)) << isa;
  // The name follows the kernels in use: forcing the portable path never reports the explicit ones.
  set_kernel_path(KernelPath::Portable);
  const std::string portable = kernel_isa();
  set_kernel_path(KernelPath::Auto);
  EXPECT_TRUE(portable != "avx512f" && portable != "avx512f+vnni" && names.count(portable)) << portable;
  EXPECT_FALSE(cpu_name().empty());
  std::cout << "[ info ] " << cpu_name() << ", " << isa << ": read " << gbps << " GB/s (64 MiB), peak " << gflops
            << " GFLOP/s (2 threads)\n";
}

bool on_path(const char* exe) {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::istringstream dirs(path);
  for (std::string d; std::getline(dirs, d, ':');)
    if (!d.empty() && access((fs::path(d) / exe).c_str(), X_OK) == 0) return true;
  return false;
}

TEST(BenchReport, PlotsAreWrittenAsSvg) {
  if (!on_path("gnuplot")) GTEST_SKIP() << "gnuplot is not on PATH (apt-get install gnuplot-nox); plots not tested";
  Scratch s;
  const fs::path p = s.dir / "bench.svg";
  write_plots(made_up_report(), p.string());
  for (const fs::path& out : {p, s.dir / "bench-kv.svg"}) {
    ASSERT_TRUE(fs::exists(out)) << out;
    EXPECT_GT(fs::file_size(out), 1000u) << out;
    std::ifstream f(out);
    std::stringstream text;
    text << f.rdbuf();
    EXPECT_NE(text.str().find("<svg"), std::string::npos) << out;
    EXPECT_NE(text.str().find("mla-absorbed"), std::string::npos) << out;  // the legend
  }
  EXPECT_THROW(write_plots(made_up_report(), (s.dir / "bench.gif").string()), Error);
}

// `mla bench attention` on a short cache: every variant and dtype is timed, its bytes and FLOPs are
// the stated model (the latent row once per token plus kv_b_proj for MLA; K and V per kv head for
// MHA / GQA), and the table reports each case.
TEST(Roofline, AttentionBenchReportsEveryCase) {
  ThreadPool pool(2);
  AttnRooflineOptions o;
  o.context = 300;
  o.rounds = 1;
  o.min_case_seconds = 0.001;
  o.read_buffer_bytes = size_t{16} << 20;
  const AttnRooflineReport r = run_attention_roofline(o, pool, [](const std::string&) {});
  ASSERT_EQ(r.cases.size(), 8u);  // (mla-absorbed 16, 128, mha, gqa) x (bf16, f32)
  EXPECT_GT(r.read_gbps, 0);
  EXPECT_GT(r.peak_gflops, 0);
  const double tokens = 301;
  for (const AttnRooflineCase& c : r.cases) {
    EXPECT_TRUE(std::isfinite(c.seconds) && c.seconds > 0 && c.seconds < 1) << c.variant;
    EXPECT_GT(r.fraction(c), 0) << c.variant;
    const double elem = c.dtype == kv::CacheDtype::F32 ? 4 : 2;
    if (c.variant == "mla-absorbed") {
      EXPECT_DOUBLE_EQ(c.bytes, tokens * 576 * elem + c.heads * 256.0 * 512 * 2);
      EXPECT_DOUBLE_EQ(c.flops, 2.0 * c.heads * tokens * (576 + 512) + 2.0 * c.heads * 256 * 512);
    } else {
      EXPECT_DOUBLE_EQ(c.bytes, tokens * 2 * c.kv_heads * 128 * elem);
      EXPECT_DOUBLE_EQ(c.flops, 2.0 * c.heads * tokens * 2 * 128);
    }
  }
  const std::string table = format_attention_roofline(r);
  for (const char* v : {"mla-absorbed", "mha", "gqa", "bf16", "f32", "roofline"})
    EXPECT_NE(table.find(v), std::string::npos) << v << "\n" << table;
}

}  // namespace
}  // namespace mla::bench
