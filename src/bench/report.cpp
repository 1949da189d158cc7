// Writing a BenchReport out: aligned text tables, JSON, CSV and gnuplot plots (see report.h).
#include "bench/report.h"

#include "core/human_bytes.h"

#include <sys/wait.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/error.h"

namespace mla::bench {
namespace {

namespace fs = std::filesystem;

// ---- number formatting ----------------------------------------------------------------------

std::string printf_str(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// About three significant digits, never in exponent form: 0.123, 1.23, 12.3, 123, 12345.
std::string num(double v) {
  if (!std::isfinite(v)) return "-";
  const double a = std::fabs(v);
  if (a >= 100 || a == 0) return printf_str("%.0f", v);
  if (a >= 10) return printf_str("%.1f", v);
  if (a >= 1) return printf_str("%.2f", v);
  return printf_str("%.3f", v);
}

std::string ratio_str(double num_v, double den_v) {
  if (!(den_v > 0) || !std::isfinite(num_v)) return "-";
  return printf_str("%.2f", num_v / den_v) + "x";
}

std::string percent(double fraction) {
  if (!std::isfinite(fraction)) return "-";
  return printf_str("%.1f", 100.0 * fraction) + "%";
}

// Shortest text that reads back to the same double (for CSV).
std::string exact(double v) {
  if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
  // Whole numbers (byte counts, contexts) as integers: 1000000000, not 1e+09.
  if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0) return std::to_string(static_cast<int64_t>(v));
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

// ---- aligned text tables --------------------------------------------------------------------

struct Table {
  std::vector<std::string> head;
  std::vector<bool> left;  // left-aligned columns (names); numbers are right-aligned
  std::vector<std::vector<std::string>> rows;

  std::string render(const std::string& indent = "  ") const {
    std::vector<size_t> w(head.size());
    for (size_t c = 0; c < head.size(); ++c) w[c] = head[c].size();
    for (const auto& r : rows)
      for (size_t c = 0; c < r.size() && c < w.size(); ++c) w[c] = std::max(w[c], r[c].size());
    std::ostringstream out;
    auto line = [&](const std::vector<std::string>& cells) {
      std::string s = indent;
      for (size_t c = 0; c < w.size(); ++c) {
        const std::string& cell = c < cells.size() ? cells[c] : std::string();
        const std::string pad(w[c] - cell.size(), ' ');
        if (c) s += "  ";
        s += left[c] ? cell + pad : pad + cell;
      }
      while (!s.empty() && s.back() == ' ') s.pop_back();
      out << s << "\n";
    };
    line(head);
    size_t total = 0;
    for (size_t c = 0; c < w.size(); ++c) total += w[c] + (c ? 2 : 0);
    out << indent << std::string(total, '-') << "\n";
    for (const auto& r : rows) line(r);
    return out.str();
  }
};

// Variants in the order they first appear (the order the benchmark ran them).
template <class Row>
std::vector<std::string> variants_in_order(const std::vector<Row>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows)
    if (std::find(out.begin(), out.end(), r.variant) == out.end()) out.push_back(r.variant);
  return out;
}

// ---- files ----------------------------------------------------------------------------------

// "out/plot.svg" + "-kv" -> "out/plot-kv.svg"; no extension -> appended.
std::string with_suffix(const std::string& path, const std::string& suffix) {
  const fs::path p(path);
  return (p.parent_path() / (p.stem().string() + suffix + p.extension().string())).string();
}

std::ofstream open_out(const std::string& path, const char* what) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) fail("cannot open ", what, " output file '", path, "' for writing");
  return f;
}

void close_out(std::ofstream& f, const std::string& path, const char* what) {
  f.close();
  if (!f) fail("error writing ", what, " output file '", path, "'");
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// ---- gnuplot --------------------------------------------------------------------------------

// A gnuplot single-quoted string: no escapes are interpreted except '' for a quote.
std::string gp_str(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q += "''";
    else if (c == '\n' || c == '\r') q += ' ';
    else q += c;
  }
  return q + "'";
}

// A POSIX shell single-quoted word.
std::string sh_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// A fresh private directory, removed with everything in it when this goes out of scope.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "mla-plot-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) fail("cannot create a temporary directory from '", tmpl, "'");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

std::string read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// How contexts map onto the x axis. A sweep like 0, 512, 4K, 32K spans > 10x, so x is logarithmic;
// context 0 cannot sit on a log axis, so it is drawn half a step left of the smallest non-zero
// context and its tick is labelled "0".
struct XAxis {
  bool log = false;
  double zero_at = 0;
  std::string setup;  // gnuplot commands

  double x(int64_t context) const { return context == 0 && log ? zero_at : static_cast<double>(context); }
};

std::string context_label(int64_t c) {
  if (c >= 1024 && c % 1024 == 0) return std::to_string(c / 1024) + "K";
  return std::to_string(c);
}

XAxis make_x_axis(const std::vector<BenchRow>& rows) {
  std::set<int64_t> contexts;
  for (const auto& r : rows) contexts.insert(r.context);
  int64_t min_pos = 0, max_pos = 0;
  for (int64_t c : contexts)
    if (c > 0) {
      if (!min_pos) min_pos = c;
      max_pos = c;
    }
  XAxis ax;
  ax.log = min_pos > 0 && static_cast<double>(max_pos) / static_cast<double>(min_pos) > 10;
  std::ostringstream s;
  if (ax.log) {
    ax.zero_at = static_cast<double>(min_pos) / 2;
    s << "set logscale x 2\n";
    if (contexts.size() <= 16) {
      // A sweep: one tick per measured context.
      s << "set xtics (";
      bool first = true;
      for (int64_t c : contexts) {
        s << (first ? "" : ", ") << gp_str(context_label(c)) << " " << exact(ax.x(c));
        first = false;
      }
      s << ")\n";
    } else if (contexts.count(0)) {
      s << "set xtics add ('0' " << exact(ax.zero_at) << ")\n";
    }
    const double lo = contexts.count(0) ? ax.zero_at : static_cast<double>(min_pos);
    s << "set xrange [" << exact(lo / 1.25) << ":" << exact(static_cast<double>(max_pos) * 1.25) << "]\n";
  } else {
    s << "set offsets graph 0.03, graph 0.03, 0, 0\n";
  }
  ax.setup = s.str();
  return ax;
}

void run_gnuplot(const fs::path& script, const fs::path& dir) {
  const fs::path err = dir / "gnuplot.err";
  const std::string cmd = "gnuplot " + sh_quote(script.string()) + " > " + sh_quote((dir / "gnuplot.out").string()) +
                          " 2> " + sh_quote(err.string());
  const int status = std::system(cmd.c_str());
  if (status == -1) fail("write_plots: cannot start a shell to run gnuplot");
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    fail("write_plots: gnuplot not found on PATH (install it: apt-get install gnuplot-nox)");
  std::string msg = read_all(err);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  if (WIFEXITED(status))
    fail("write_plots: gnuplot exited with status ", WEXITSTATUS(status), ": ", msg);
  fail("write_plots: gnuplot was killed by signal ", WIFSIGNALED(status) ? WTERMSIG(status) : -1, ": ", msg);
}

}  // namespace

// ---- table ----------------------------------------------------------------------------------

std::string format_table(const BenchReport& r) {
  std::ostringstream out;
  const MachineInfo& m = r.machine;
  out << "machine: " << (m.cpu.empty() ? "unknown cpu" : m.cpu) << " | isa " << (m.isa.empty() ? "?" : m.isa)
      << " | " << m.threads << (m.threads == 1 ? " thread" : " threads") << " | read " << num(m.read_gbps)
      << " GB/s | peak " << num(m.peak_gflops) << " GFLOP/s\n";
  out << "model:   " << (r.preset.empty() ? "?" : r.preset);
  if (!r.shape.empty()) out << " | " << r.shape;
  out << "\n";

  // MHA at each context (decode) and its prefill: the baselines the ratios are taken against.
  std::map<int64_t, double> mha_decode;
  double mha_prefill = 0;
  for (const auto& row : r.rows)
    if (row.variant == "mha") {
      mha_decode.emplace(row.context, row.decode_tok_s);
      if (mha_prefill <= 0 && row.prefill_tok_s > 0) mha_prefill = row.prefill_tok_s;
    }

  if (!r.rows.empty()) {
    Table t;
    t.head = {"variant", "context", "decode tok/s", "vs mha", "KV/token", "KV total", "attn",
              "GB/s", "GFLOP/s", "bound", "roofline", "peak RSS"};
    t.left = {true, false, false, false, false, false, false, false, false, true, false, false};
    for (const auto& row : r.rows) {
      const auto it = mha_decode.find(row.context);
      t.rows.push_back({row.variant, std::to_string(row.context), num(row.decode_tok_s),
                        it == mha_decode.end() ? "-" : ratio_str(row.decode_tok_s, it->second),
                        human_bytes(row.kv_bytes_per_token), human_bytes(row.kv_bytes_total),
                        percent(row.attention_share), num(row.achieved_gbps), num(row.achieved_gflops),
                        row.bound.empty() ? "-" : row.bound, percent(row.roofline_fraction),
                        human_bytes(row.peak_rss_bytes)});
    }
    out << "\ndecode (one sequence; vs mha = tok/s relative to mha at the same context; peak RSS of the\n"
           "variant so far: weights + caches)\n"
        << t.render();

    // Prefill is measured once per variant: its first row with a prefill figure.
    Table p;
    p.head = {"variant", "prefill tok/s", "vs mha", "GFLOP/s", "of peak"};
    p.left = {true, false, false, false, false};
    for (const auto& v : variants_in_order(r.rows)) {
      for (const auto& row : r.rows)
        if (row.variant == v && row.prefill_tok_s > 0) {
          const bool flops = row.prefill_gflops > 0 && m.peak_gflops > 0;
          p.rows.push_back({v, num(row.prefill_tok_s), ratio_str(row.prefill_tok_s, mha_prefill),
                            flops ? num(row.prefill_gflops) : "-", flops ? percent(row.prefill_gflops / m.peak_gflops) : "-"});
          break;
        }
    }
    if (!p.rows.empty())
      out << "\nprefill (GFLOP/s: the FLOPs the prompt must do / its time; of peak: against the FMA peak above)\n"
          << p.render();
  }

  if (!r.throughput.empty()) {
    std::map<std::pair<int64_t, double>, double> mha_tp;  // (context, budget) -> tok/s
    for (const auto& row : r.throughput)
      if (row.variant == "mha") mha_tp.emplace(std::make_pair(row.context, row.kv_budget_bytes), row.tok_s);
    Table t;
    t.head = {"variant", "context", "KV budget", "sequences", "tok/s", "vs mha"};
    t.left = {true, false, false, false, false, false};
    for (const auto& row : r.throughput) {
      const auto it = mha_tp.find({row.context, row.kv_budget_bytes});
      t.rows.push_back({row.variant, std::to_string(row.context), human_bytes(row.kv_budget_bytes),
                        std::to_string(row.sequences), num(row.tok_s),
                        it == mha_tp.end() ? "-" : ratio_str(row.tok_s, it->second)});
    }
    out << "\nthroughput at an equal KV budget (as many sequences as fit, decoding together)\n" << t.render();
  }
  return out.str();
}

// ---- JSON -----------------------------------------------------------------------------------

void write_json(const BenchReport& r, const std::string& path) {
  using json = nlohmann::ordered_json;
  json j;
  j["machine"] = {{"cpu", r.machine.cpu},
                  {"isa", r.machine.isa},
                  {"threads", r.machine.threads},
                  {"read_gbps", r.machine.read_gbps},
                  {"peak_gflops", r.machine.peak_gflops}};
  j["preset"] = r.preset;
  j["shape"] = r.shape;
  j["rows"] = json::array();
  for (const auto& row : r.rows)
    j["rows"].push_back({{"variant", row.variant},
                         {"context", row.context},
                         {"prefill_tok_s", row.prefill_tok_s},
                         {"prefill_gflops", row.prefill_gflops},
                         {"decode_tok_s", row.decode_tok_s},
                         {"kv_bytes_per_token", row.kv_bytes_per_token},
                         {"kv_bytes_total", row.kv_bytes_total},
                         {"peak_rss_bytes", row.peak_rss_bytes},
                         {"attention_share", row.attention_share},
                         {"achieved_gbps", row.achieved_gbps},
                         {"achieved_gflops", row.achieved_gflops},
                         {"bound", row.bound},
                         {"roofline_fraction", row.roofline_fraction}});
  j["throughput"] = json::array();
  for (const auto& row : r.throughput)
    j["throughput"].push_back({{"variant", row.variant},
                               {"context", row.context},
                               {"kv_budget_bytes", row.kv_budget_bytes},
                               {"sequences", row.sequences},
                               {"tok_s", row.tok_s}});
  auto f = open_out(path, "JSON");
  f << j.dump(2) << "\n";  // non-finite numbers are written as null
  close_out(f, path, "JSON");
}

// ---- CSV ------------------------------------------------------------------------------------

// Two files: the rows at `path`, the throughput rows at `path` with "-throughput" before the
// extension (written even when empty, header only, so consumers find both).
void write_csv(const BenchReport& r, const std::string& path) {
  {
    auto f = open_out(path, "CSV");
    f << "variant,context,prefill_tok_s,decode_tok_s,kv_bytes_per_token,kv_bytes_total,peak_rss_bytes,"
         "attention_share,achieved_gbps,achieved_gflops,bound,roofline_fraction,prefill_gflops\n";
    for (const auto& row : r.rows)
      f << csv_field(row.variant) << ',' << row.context << ',' << exact(row.prefill_tok_s) << ','
        << exact(row.decode_tok_s) << ',' << exact(row.kv_bytes_per_token) << ',' << exact(row.kv_bytes_total) << ','
        << exact(row.peak_rss_bytes) << ',' << exact(row.attention_share) << ',' << exact(row.achieved_gbps) << ','
        << exact(row.achieved_gflops) << ',' << csv_field(row.bound) << ',' << exact(row.roofline_fraction) << ','
        << exact(row.prefill_gflops) << '\n';
    close_out(f, path, "CSV");
  }
  const std::string tp_path = with_suffix(path, "-throughput");
  auto f = open_out(tp_path, "CSV");
  f << "variant,context,kv_budget_bytes,sequences,tok_s\n";
  for (const auto& row : r.throughput)
    f << csv_field(row.variant) << ',' << row.context << ',' << exact(row.kv_budget_bytes) << ',' << row.sequences
      << ',' << exact(row.tok_s) << '\n';
  close_out(f, tp_path, "CSV");
}

// ---- plots ----------------------------------------------------------------------------------

void write_plots(const BenchReport& r, const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  std::string terminal;
  if (ext == ".svg")
    terminal = "set terminal svg size 900,560 dynamic noenhanced font 'sans,13' background '#ffffff'";
  else if (ext == ".png")
    terminal = "set terminal pngcairo size 1200,750 noenhanced font 'sans,11' background '#ffffff'";
  else
    fail("write_plots: '", path, "' must end in .svg or .png");
  if (r.rows.empty()) fail("write_plots: the report has no rows to plot");

  const std::string kv_path = with_suffix(path, "-kv");
  TempDir tmp;
  const XAxis ax = make_x_axis(r.rows);
  const std::vector<std::string> variants = variants_in_order(r.rows);

  // One data file per variant, sorted by context: x, decode tok/s, KV MiB.
  std::vector<fs::path> data;
  for (size_t i = 0; i < variants.size(); ++i) {
    std::vector<const BenchRow*> rows;
    for (const auto& row : r.rows)
      if (row.variant == variants[i]) rows.push_back(&row);
    std::stable_sort(rows.begin(), rows.end(), [](auto* a, auto* b) { return a->context < b->context; });
    data.push_back(tmp.path / ("variant" + std::to_string(i) + ".dat"));
    std::ofstream f(data.back());
    f << "# context_x decode_tok_s kv_mib  (" << variants[i] << ")\n";
    for (const BenchRow* row : rows)
      f << exact(ax.x(row->context)) << ' ' << exact(row->decode_tok_s) << ' '
        << exact(row->kv_bytes_total / (1024.0 * 1024.0)) << '\n';
    if (!f) fail("write_plots: cannot write data file ", data.back().string());
  }

  const std::string subtitle = r.preset.empty() ? std::string() : " (" + r.preset + ")";
  std::ostringstream s;
  s << terminal << "\n"
    << "set grid\nset key outside right top box\nset border 3\nset tics nomirror\n"
    << ax.setup << "set xlabel " << gp_str(ax.log ? "context (tokens, log scale)" : "context (tokens)") << "\n";
  // A different marker per variant, so lines that coincide (naive and absorbed MLA cache the same
  // bytes) stay distinguishable: circle, square, triangles, diamond, pentagon.
  static constexpr int kPointTypes[] = {7, 5, 9, 11, 13, 15};
  auto plot_lines = [&](int column) {
    s << "plot ";
    for (size_t i = 0; i < variants.size(); ++i)
      s << (i ? ", \\\n     " : "") << gp_str(data[i].string()) << " using 1:" << column
        << " with linespoints lw 2 pt " << kPointTypes[i % 6] << " ps 1 title " << gp_str(variants[i]);
    s << "\n";
  };
  s << "set output " << gp_str(path) << "\n"
    << "set title " << gp_str("Decode speed vs context" + subtitle) << "\n"
    << "set ylabel 'decode tokens/s (one sequence)'\nset yrange [0:*]\n";
  plot_lines(2);
  s << "unset output\n"
    << "set output " << gp_str(kv_path) << "\n"
    << "set title " << gp_str("KV cache memory vs context" + subtitle) << "\n"
    << "set ylabel 'KV cache (MiB, all layers)'\nset yrange [0:*]\n";
  plot_lines(3);
  s << "unset output\n";

  const fs::path script = tmp.path / "plots.gp";
  {
    std::ofstream f(script);
    f << s.str();
    if (!f) fail("write_plots: cannot write gnuplot script ", script.string());
  }
  run_gnuplot(script, tmp.path);
  for (const std::string& out : {path, kv_path}) {
    std::error_code ec;
    if (fs::file_size(out, ec) == 0 || ec) fail("write_plots: gnuplot ran but '", out, "' is missing or empty");
  }
}

}  // namespace mla::bench
