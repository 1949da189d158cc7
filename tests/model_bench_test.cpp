// `mla bench --model` (bench/model_bench.h) on a tiny random DeepSeek-V3: one result per test and
// depth with sane speeds, the table and the JSON schema another script reads, one-line errors.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "bench/model_bench.h"
#include "core/error.h"
#include "model/random_weights.h"
#include "testing/tiny_models.h"

namespace mla::bench {
namespace {

ModelBenchOptions small_options() {
  ModelBenchOptions o;
  o.prompt_tokens = {8};
  o.decode_tokens = 4;
  o.depths = {0, 8};
  o.reps = 2;
  o.kv_type = kv::CacheDtype::BF16;
  return o;
}

class ModelBenchTest : public ::testing::Test {
 protected:
  ThreadPool pool{2};
  std::unique_ptr<Model> model =
      build_model(testing::tiny_deepseek_v3(), std::make_unique<RandomWeights>(DType::F32, 3, pool), pool);

  ModelBenchReport report(const ModelBenchOptions& o) {
    ModelBenchReport r;
    r.model = "tiny-v3";
    r.architecture = model->config().architecture;
    r.n_params = model->params().total;
    r.weights = "F32";
    r.threads = pool.size();
    r.options = o;
    r.results = run_model_bench(*model, o, [](const std::string&) {});
    return r;
  }
};

TEST_F(ModelBenchTest, OneResultPerTestAndDepth) {
  const ModelBenchReport r = report(small_options());
  ASSERT_EQ(r.results.size(), 4u);  // (pp8, tg4) at depth 0, then at depth 8
  const char* tests[] = {"pp8", "tg4", "pp8", "tg4"};
  for (size_t i = 0; i < r.results.size(); ++i) {
    const ModelBenchResult& x = r.results[i];
    SCOPED_TRACE(x.test + " @ " + std::to_string(x.depth));
    EXPECT_EQ(x.test, tests[i]);
    EXPECT_EQ(x.kind, i % 2 ? "decode" : "prefill");
    EXPECT_EQ(x.tokens, i % 2 ? 4 : 8);
    EXPECT_EQ(x.depth, i < 2 ? 0 : 8);
    EXPECT_EQ(x.seconds.size(), 2u);
    EXPECT_TRUE(std::isfinite(x.tps_mean) && x.tps_mean > 0) << x.tps_mean;
    EXPECT_TRUE(std::isfinite(x.tps_sd) && x.tps_sd >= 0) << x.tps_sd;
  }
}

// With a read probe, tg rows carry the bytes a token reads: at least the lm_head (every token
// multiplies all of it) and at most every weight once (f32 here: 4 bytes per parameter); pp rows none.
// With a file probe too (here over any memory), tg rows carry its bandwidth as well.
TEST_F(ModelBenchTest, DecodeRowsReportWeightBytesAgainstTheReadProbe) {
  ReadProbe probe(pool, size_t{1} << 20);
  const std::vector<uint8_t> pages(3 << 20, 7);
  ReadProbe file_probe(pool, {std::span<const uint8_t>(pages)});
  ModelBenchOptions o = small_options();
  const std::vector<ModelBenchResult> rs = run_model_bench(*model, o, [](const std::string&) {}, &probe, &file_probe);
  const ModelConfig& c = model->config();
  const double lm_head = 4.0 * static_cast<double>(c.vocab_size * c.hidden_size);
  for (const ModelBenchResult& x : rs) {
    SCOPED_TRACE(x.test + " @ " + std::to_string(x.depth));
    if (x.kind == "prefill") {
      EXPECT_EQ(x.read_gbps, 0);
      EXPECT_EQ(x.file_read_gbps, 0);
      continue;
    }
    EXPECT_GT(x.read_gbps, 0);
    EXPECT_GT(x.file_read_gbps, 0);
    EXPECT_GE(x.weight_bytes_per_token, lm_head);
    EXPECT_LE(x.weight_bytes_per_token, 4.0 * static_cast<double>(model->params().total));
    EXPECT_NEAR(x.weight_gbps, x.weight_bytes_per_token * x.tps_mean / 1e9, 1e-9 * x.weight_gbps);
  }
  ModelBenchReport r;
  r.options = o;
  r.results = rs;
  EXPECT_NE(format_model_bench_table(r).find("% of read | % of file read |"), std::string::npos);
  EXPECT_NE(model_bench_json(r).find("\"weight_bytes_per_token\""), std::string::npos);
  EXPECT_NE(model_bench_json(r).find("\"file_read_gbps\""), std::string::npos);
}

TEST_F(ModelBenchTest, ZeroDecodeTokensSkipsDecode) {
  ModelBenchOptions o = small_options();
  o.decode_tokens = 0;
  o.depths = {8, 0};  // a shallower depth after a deeper one: reached by truncation
  const ModelBenchReport r = report(o);
  ASSERT_EQ(r.results.size(), 2u);
  EXPECT_EQ(r.results[0].depth, 8);
  EXPECT_EQ(r.results[1].depth, 0);
  for (const ModelBenchResult& x : r.results) EXPECT_EQ(x.kind, "prefill");
}

TEST_F(ModelBenchTest, TableHasHeaderAndOneRowPerResult) {
  const std::string t = format_model_bench_table(report(small_options()));
  EXPECT_EQ(t.rfind("model: tiny-v3 | DeepseekV3ForCausalLM | ", 0), 0u) << t;
  EXPECT_NE(t.find("| threads 2 | attn auto | kv bf16\n"), std::string::npos) << t;
  EXPECT_NE(t.find("| test "), std::string::npos) << t;
  EXPECT_NE(t.find("| tg4 "), std::string::npos) << t;
  size_t lines = 0, plus_minus = 0;
  for (size_t p = 0; (p = t.find('\n', p)) != std::string::npos; ++p) ++lines;
  for (size_t p = 0; (p = t.find("±", p)) != std::string::npos; ++p) ++plus_minus;
  EXPECT_EQ(lines, 2u + 4u) << t;
  EXPECT_EQ(plus_minus, 4u) << t;
}

TEST_F(ModelBenchTest, JsonHasTheSchema) {
  ModelBenchReport r = report(small_options());
  r.quant = DType::Q8_0;  // what --quant q8_0 records (the description only; the weights stay F32)
  const nlohmann::json j = nlohmann::json::parse(model_bench_json(r));
  EXPECT_EQ(j.size(), 7u) << j.dump();
  EXPECT_EQ(j.at("engine"), "mla");
  EXPECT_EQ(j.at("model"), "tiny-v3");
  EXPECT_EQ(j.at("threads"), 2);
  EXPECT_EQ(j.at("attn"), "auto");
  EXPECT_EQ(j.at("kv_type"), "bf16");
  EXPECT_EQ(j.at("quant"), "q8_0");
  const auto& results = j.at("results");
  ASSERT_TRUE(results.is_array());
  ASSERT_EQ(results.size(), 4u);
  for (const auto& x : results) {
    EXPECT_EQ(x.size(), 8u) << x.dump();
    EXPECT_TRUE(x.at("test").is_string());
    EXPECT_TRUE(x.at("kind") == "prefill" || x.at("kind") == "decode") << x.dump();
    EXPECT_TRUE(x.at("tokens").is_number_integer());
    EXPECT_TRUE(x.at("depth").is_number_integer());
    EXPECT_EQ(x.at("reps"), 2);
    EXPECT_GT(x.at("tps_mean").get<double>(), 0);
    EXPECT_GE(x.at("tps_sd").get<double>(), 0);
    ASSERT_TRUE(x.at("seconds").is_array());
    EXPECT_EQ(x.at("seconds").size(), 2u);
  }
  EXPECT_EQ(results[3].at("test"), "tg4");
  EXPECT_EQ(results[3].at("depth"), 8);

  ModelBenchReport plain;
  EXPECT_TRUE(nlohmann::json::parse(model_bench_json(plain)).at("quant").is_null());
}

// Every bad option is rejected with one line naming the flag, before any work.
TEST_F(ModelBenchTest, BadOptionsAreOneLineErrors) {
  auto expect_error = [&](const ModelBenchOptions& o, const std::string& needle) {
    try {
      run_model_bench(*model, o, [](const std::string&) {});
      ADD_FAILURE() << "no error for " << needle;
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(needle), std::string::npos) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  };
  ModelBenchOptions o = small_options();
  o.prompt_tokens = {8, 0};
  expect_error(o, "-p");
  o = small_options();
  o.prompt_tokens.clear();
  expect_error(o, "-p");
  o = small_options();
  o.decode_tokens = -1;
  expect_error(o, "-n");
  o = small_options();
  o.depths = {-8};
  expect_error(o, "-d");
  o = small_options();
  o.reps = 0;
  expect_error(o, "-r");
  o = small_options();
  o.depths = {0, 60};  // 60 + 8 > the tiny model's 64 positions
  expect_error(o, "exceed the model's context of 64");
  o = small_options();
  o.decode_tokens = 65;
  expect_error(o, "-n 65");
  try {
    kv::parse_cache_dtype("f64", "--kv-type");  // as `mla bench --model` parses it
    ADD_FAILURE() << "no error for an unknown kv type";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("--kv-type 'f64': ", 0), 0u) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace mla::bench
