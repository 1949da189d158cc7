// Development-time peer check (not built by CMake): our quantizers against libggml-base.so's
// quantize_<type>(src, dst, nrows, n_per_row, NULL) on the same random rows (Gaussian, heavy-tailed,
// outliers, a zero row): share of bit-equal blocks and RMS error of each side. Build and run:
//   g++ -std=c++20 -O2 -Isrc tests/reference/quantize_vs_ggml.cpp build/libmla_core.a -ldl -lpthread -o /tmp/qcmp
//   /tmp/qcmp [seed]      (libggml-base.so from node-llama-cpp, path below)
#include <dlfcn.h>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>
#include "tensor/quantize.h"
#include "quants/dequantize.h"
using namespace mla;
typedef size_t (*QFn)(const float*, void*, int64_t, int64_t, const float*);
typedef void (*DFn)(const void*, float*, int64_t);
int main(int argc, char** argv) {
  void* h = dlopen("/work/main/bench/peer/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so", RTLD_NOW);
  if (!h) { printf("dlopen: %s\n", dlerror()); return 1; }
  struct T { DType t; const char* q; };
  T types[] = {{DType::Q4_1, "quantize_q4_1"}, {DType::Q5_0, "quantize_q5_0"}, {DType::Q5_1, "quantize_q5_1"},
               {DType::IQ4_NL, "quantize_iq4_nl"}, {DType::Q2_K, "quantize_q2_K"}, {DType::Q3_K, "quantize_q3_K"},
               {DType::Q4_K, "quantize_q4_K"}, {DType::Q5_K, "quantize_q5_K"}, {DType::Q6_K, "quantize_q6_K"},
               {DType::IQ4_XS, "quantize_iq4_xs"}, {DType::Q8_0, "quantize_q8_0"}, {DType::Q4_0, "quantize_q4_0"}};
  const int64_t rows = 256, n = 4096;
  std::mt19937 rng(argc > 1 ? atoi(argv[1]) : 1);
  std::vector<float> x(rows * n);
  // mixture: gaussian rows, some heavy-tailed rows, some with outliers, a zero row
  std::normal_distribution<float> g(0, 1);
  std::student_t_distribution<float> st(3);
  for (int64_t r = 0; r < rows; ++r) {
    const float sc = std::exp(g(rng));
    for (int64_t j = 0; j < n; ++j) x[r * n + j] = sc * (r % 3 == 0 ? st(rng) : g(rng)) * 0.02f;
    if (r % 7 == 0) x[r * n + rng() % n] *= 50;
    if (r == 5) std::fill(&x[r * n], &x[r * n] + n, 0.f);
  }
  for (const T& t : types) {
    QFn q = (QFn)dlsym(h, t.q);
    if (!q) { printf("%s missing\n", t.q); continue; }
    const size_t rb = dtype_row_bytes(t.t, n);
    std::vector<uint8_t> a(rows * rb), b(rows * rb);
    for (int64_t r = 0; r < rows; ++r) quantize_row(t.t, &x[r * n], &a[r * rb], n);
    q(x.data(), b.data(), rows, n, nullptr);
    const size_t bb = dtype_block_bytes(t.t), nb = a.size() / bb;
    size_t same = 0;
    for (size_t i = 0; i < nb; ++i) same += memcmp(&a[i * bb], &b[i * bb], bb) == 0;
    std::vector<float> da(n), db(n);
    double ea = 0, eb = 0, s2 = 0;
    for (int64_t r = 0; r < rows; ++r) {
      dequantize_row(t.t, &a[r * rb], da.data(), n);
      dequantize_row(t.t, &b[r * rb], db.data(), n);
      for (int64_t j = 0; j < n; ++j) {
        const double v = x[r * n + j];
        ea += (da[j] - v) * (da[j] - v); eb += (db[j] - v) * (db[j] - v); s2 += v * v;
      }
    }
    printf("%-7s blocks bit-equal %6.2f%% (%zu/%zu)  rel rms ours %.5f ggml %.5f ratio %.4f\n", dtype_name(t.t),
           100.0 * same / nb, same, nb, std::sqrt(ea / s2), std::sqrt(eb / s2), std::sqrt(ea / eb));
  }
}
