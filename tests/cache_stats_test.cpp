// GET /cache and the chat page's routes: the JSON the cache panel draws (the `mla kv` arithmetic,
// block counts, the per-second history), the same numbers in /metrics, and the page's files served
// without a key while every data route keeps needing it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/cache_stats.h"
#include "server/metrics.h"
#include "server/openai_api.h"
#include "server/web_assets.h"

namespace mla::server {
namespace {

EngineMetrics busy_metrics() {
  EngineMetrics m;
  m.kv_type = kv::CacheDtype::BF16;
  m.kv_block_tokens = 16;
  m.kv_blocks_total = 100;
  m.kv_blocks_used = 7;
  m.kv_blocks_free = 93;
  m.kv_blocks_cached = 4;
  m.kv_blocks_shared = 2;
  m.kv_bytes_per_token = 61 * 576 * 2;  // DeepSeek-V3: 61 layers x 576 values x 2 bytes
  m.kv_bytes_total = 100 * 16 * m.kv_bytes_per_token;
  m.kv_bytes_used = 7 * 16 * m.kv_bytes_per_token;
  m.running = 3;
  m.queue_depth = 1;
  m.prefix_cache_hit_tokens = 48;
  m.requests_cancelled = 2;
  return m;
}

TEST(CacheStats, PerTokenBytesAreTheKvAccountingsAndTheBudgetInMhaTokens) {
  const kv::KvShape v3 = kv::preset("deepseek-v3");
  const CacheFacts f = cache_facts(v3, kv::CacheDtype::BF16);
  EXPECT_EQ(f.kv_bytes_per_token, kv::kv_bytes(v3, kv::CacheDtype::BF16).per_token);
  EXPECT_EQ(f.kv_bytes_per_token, 70272u);  // 61 x 576 x 2, as `mla kv --preset deepseek-v3` prints
  EXPECT_EQ(f.mha_bytes_per_token, kv::mha_bytes(v3, kv::CacheDtype::BF16).per_token);

  const EngineMetrics m = busy_metrics();
  const auto j = cache_json("v3", f, m, {}, 1000);
  EXPECT_EQ(j["kv_type"], "bf16");
  EXPECT_EQ(j["attention"], "MLA");
  EXPECT_EQ(j["layers"], 61);
  EXPECT_EQ(j["kv_values_per_token_per_layer"], 576);
  EXPECT_EQ(j["kv_bytes_per_token"], 70272);
  EXPECT_EQ(j["stored_bytes_per_token"], 70272);
  EXPECT_EQ(j["mha_kv_bytes_per_token"], f.mha_bytes_per_token);
  EXPECT_DOUBLE_EQ(j["reduction"].get<double>(), static_cast<double>(f.mha_bytes_per_token) / 70272.0);
  EXPECT_EQ(j["blocks"]["used"], 7);
  EXPECT_EQ(j["blocks"]["free"], 93);
  EXPECT_EQ(j["blocks"]["cached"], 4);
  EXPECT_EQ(j["blocks"]["shared"], 2);
  EXPECT_EQ(j["tokens"]["capacity"], 1600);
  EXPECT_EQ(j["tokens"]["mha_capacity"], m.kv_bytes_total / f.mha_bytes_per_token);
  EXPECT_EQ(j["sequences"]["running"], 3);
  EXPECT_EQ(j["sequences"]["queued"], 1);
  EXPECT_EQ(j["counters"]["prefix_cache_hit_tokens"], 48);

  // A model the accounting has no shape for: the stored bytes, no comparison.
  const auto bare = cache_json("x", cache_facts(std::nullopt, kv::CacheDtype::F32), m, {}, 1000);
  EXPECT_TRUE(bare["mha_kv_bytes_per_token"].is_null());
  EXPECT_TRUE(bare["tokens"]["mha_capacity"].is_null());
  EXPECT_EQ(bare["kv_bytes_per_token"], m.kv_bytes_per_token);
}

TEST(CacheStats, HistoryHasOneValuePerSecondIdleSecondsHoldTheLastValue) {
  EngineSecond a;
  a.unix_seconds = 1000;
  a.kv_bytes_used_max = 500;  // a burst within the second
  a.kv_bytes_used_last = 300;
  a.running_max = 2;
  a.running_last = 1;
  EngineSecond b;
  b.unix_seconds = 1002;
  b.kv_bytes_used_max = 700;
  b.kv_bytes_used_last = 0;
  const auto j = cache_json("m", cache_facts(std::nullopt, kv::CacheDtype::BF16), busy_metrics(), {a, b}, 1003);
  const auto& h = j["history"];
  EXPECT_EQ(h["seconds"], Engine::history_seconds);
  EXPECT_EQ(h["end_unix_seconds"], 1003);
  const auto& y = h["kv_bytes_used"];
  ASSERT_EQ(y.size(), static_cast<size_t>(Engine::history_seconds));
  const size_t n = y.size();
  EXPECT_TRUE(y[n - 5].is_null());  // second 999: before the engine's first step
  EXPECT_EQ(y[n - 4], 500);         // 1000: its largest value
  EXPECT_EQ(y[n - 3], 300);         // 1001: idle, the value 1000 ended with
  EXPECT_EQ(y[n - 2], 700);
  EXPECT_EQ(y[n - 1], 0);           // 1003: idle after 1002
  EXPECT_EQ(h["running"][n - 4], 2);
  EXPECT_EQ(h["running"][n - 3], 1);
  // Entries older than the window are not laid out.
  EngineSecond old;
  old.unix_seconds = 1003 - Engine::history_seconds;
  old.kv_bytes_used_max = old.kv_bytes_used_last = 9;
  const auto k = cache_json("m", cache_facts(std::nullopt, kv::CacheDtype::BF16), busy_metrics(), {old}, 1003);
  EXPECT_EQ(k["history"]["kv_bytes_used"][0], 9);  // held from just before the window
}

TEST(CacheStats, MetricsExportThePanelsNumbers) {
  const CacheFacts f = cache_facts(kv::preset("deepseek-v3"), kv::CacheDtype::BF16);
  HttpCounters http;
  const std::string text = prometheus_text(busy_metrics(), http, &f);
  for (const std::string& want : std::vector<std::string>{"mla_kv_blocks_used 7\n", "mla_kv_blocks_free 93\n", "mla_kv_blocks_cached 4\n", "mla_kv_blocks_shared 2\n",
        "mla_kv_block_tokens 16\n", "mla_kv_bytes_per_token 70272\n",
        "mla_kv_mha_bytes_per_token " + std::to_string(f.mha_bytes_per_token) + "\n", "mla_running_sequences 3\n",
        "mla_queue_depth 1\n", "mla_kv_cache_info{kv_type=\"bf16\",attention=\"MLA\"} 1\n"})
    EXPECT_NE(text.find(want), std::string::npos) << want;
}

// A Responder that keeps the one whole response.
struct Captured : Responder {
  int status = 0;
  std::string type, body;
  void send(int s, std::string_view t, std::string_view b) override {
    status = s;
    type = t;
    body = b;
  }
  bool begin_events() override { return false; }
  bool event(std::string_view) override { return false; }
  void end_events() override {}
  bool client_gone() override { return false; }
};

Captured call(OpenAiApi& api, const std::string& method, const std::string& path, const std::string& auth = "") {
  HttpRequest r;
  r.method = method;
  r.path = path;
  r.authorization = auth;
  Captured c;
  api.handle(r, c);
  return c;
}

TEST(ChatPage, FilesAreEmbeddedAndServedWithoutAKeyDataRoutesStillNeedIt) {
  OpenAiApi api("secret");
  const Captured page = call(api, "GET", "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.type, "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("<script src=\"/app.js\""), std::string::npos);
  EXPECT_NE(page.body.find("Content-Security-Policy"), std::string::npos);
  for (const char* path : {"/app.js", "/app.css"}) {
    const WebAsset* a = find_web_asset(path);
    ASSERT_NE(a, nullptr) << path;
    const Captured c = call(api, "GET", path);
    EXPECT_EQ(c.status, 200) << path;
    EXPECT_EQ(c.body, a->body) << path;
    EXPECT_EQ(c.type, a->content_type) << path;
  }
  EXPECT_EQ(call(api, "POST", "/").status, 405);
  EXPECT_EQ(call(api, "GET", "/index.html").status, 404);
  EXPECT_EQ(call(api, "GET", "/cache").status, 401);
  EXPECT_EQ(call(api, "GET", "/cache", "Bearer wrong").status, 401);
  EXPECT_EQ(call(api, "GET", "/cache", "Bearer secret").status, 503);  // loading: no engine yet
  EXPECT_EQ(call(api, "POST", "/cache", "Bearer secret").status, 405);
}

}  // namespace
}  // namespace mla::server
