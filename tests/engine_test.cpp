// The serving engine (src/engine/engine.h) against the single-sequence Session: several requests
// submitted together, each decoded in batches with the others, must produce exactly what Session
// produces for it alone (tokens, text, finish reason); plus log-probabilities, cancellation,
// timeouts and refusals.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "engine/engine.h"
#include "engine/generate.h"
#include "model/random_weights.h"
#include "testing/tiny_tokenizer.h"

namespace mla {
namespace {

ModelConfig tiny_deepseek_v2() {
  ModelConfig c;
  c.architecture = "DeepseekV2ForCausalLM";
  c.vocab_size = 256;  // the tiny byte tokenizer's
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.max_position_embeddings = 96;
  c.kv_lora_rank = 16;
  c.qk_nope_head_dim = 8;
  c.qk_rope_head_dim = 8;
  c.v_head_dim = 8;
  return c;
}

// Collects every request's events; wait() blocks until all `n` requests finished.
struct Collector {
  std::mutex mu;
  std::condition_variable cv;
  std::map<int, std::vector<RequestEvent>> events;
  int finished = 0;

  EventSink sink(int key) {
    return [this, key](RequestEvent&& ev) {
      std::lock_guard lk(mu);
      if (ev.finished) ++finished;
      events[key].push_back(std::move(ev));
      cv.notify_all();
    };
  }
  void wait(int n) {
    std::unique_lock lk(mu);
    ASSERT_TRUE(cv.wait_for(lk, std::chrono::seconds(60), [&] { return finished >= n; }));
  }
  std::string text(int key) {
    std::string t;
    for (const auto& e : events[key]) t += e.text;
    return t;
  }
  std::vector<int32_t> ids(int key) {
    std::vector<int32_t> ids;
    for (const auto& e : events[key])
      for (const auto& t : e.tokens) ids.push_back(t.id);
    return ids;
  }
};

class EngineTest : public ::testing::Test {
 protected:
  EngineTest()
      : pool_(2),
        model_(build_model(cfg_, std::make_unique<RandomWeights>(DType::F32, 5, pool_), pool_)),
        tok_(testing::load_tokenizer(testing::tiny_tokenizer({}))) {}

  RequestParams request(std::vector<int32_t> prompt, int64_t max_tokens) {
    RequestParams p;
    p.prompt = std::move(prompt);
    p.max_tokens = max_tokens;
    p.top_logprobs = 0;  // report the ids
    return p;
  }

  ModelConfig cfg_ = tiny_deepseek_v2();
  ThreadPool pool_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Tokenizer> tok_;
};

TEST_F(EngineTest, BatchedRequestsEqualSessionRunsAlone) {
  std::vector<RequestParams> reqs;
  reqs.push_back(request({'h', 'e', 'l', 'l', 'o'}, 20));
  reqs.push_back(request({'a'}, 12));
  reqs.back().sampling.temperature = 0.8f;
  reqs.back().sampling.seed = 11;
  reqs.push_back(request({'x', 'y', 'z', ' ', 'q'}, 25));
  reqs.back().sampling.temperature = 1.0f;
  reqs.back().sampling.top_k = 20;
  reqs.back().sampling.top_p = 0.9f;
  reqs.back().sampling.presence_penalty = 0.5f;
  reqs.back().sampling.seed = 3;
  reqs.push_back(request({'m', 'l', 'a'}, 30));
  reqs.back().sampling.repetition_penalty = 1.3f;
  reqs.back().sampling.frequency_penalty = 1.0f;
  // A stop string taken from the greedy run's own text, so it does occur.
  Session probe(*model_, 96);
  GenerateOptions g;
  g.max_tokens = 20;
  const std::string greedy = probe.generate(reqs[0].prompt, g, tok_.get()).text;
  reqs.push_back(request(reqs[0].prompt, 20));
  reqs.back().stop = {greedy.substr(6, 2)};

  EngineOptions eo;
  eo.max_running = 3;  // some requests wait and join later
  Engine engine(*model_, *tok_, eo);
  Collector c;
  for (size_t i = 0; i < reqs.size(); ++i) engine.submit(reqs[i], c.sink(static_cast<int>(i)));
  c.wait(static_cast<int>(reqs.size()));

  for (size_t i = 0; i < reqs.size(); ++i) {
    Session alone(*model_, 96);
    GenerateOptions o;
    o.max_tokens = reqs[i].max_tokens;
    o.sampling = reqs[i].sampling;
    o.stop = reqs[i].stop;
    const GenerateResult want = alone.generate(reqs[i].prompt, o, tok_.get());
    const int key = static_cast<int>(i);
    EXPECT_EQ(c.text(key), want.text) << "request " << i;
    const RequestEvent& last = c.events[key].back();
    EXPECT_TRUE(last.finished);
    EXPECT_EQ(last.finish_reason, want.finish_reason) << "request " << i;
    EXPECT_EQ(last.prompt_tokens, static_cast<int64_t>(reqs[i].prompt.size()));
    EXPECT_EQ(last.completion_tokens, static_cast<int64_t>(want.ids.size())) << "request " << i;
    if (reqs[i].stop.empty()) EXPECT_EQ(c.ids(key), want.ids) << "request " << i;
  }
  EXPECT_EQ(c.events[4].back().finish_reason, "stop");
  const EngineMetrics m = engine.metrics();
  EXPECT_EQ(m.requests_finished, reqs.size());
  EXPECT_EQ(m.running, 0);
  EXPECT_EQ(m.kv_blocks_used, 0);
}

TEST_F(EngineTest, LogprobsAreTheModelsLogSoftmax) {
  Engine engine(*model_, *tok_, EngineOptions{});
  Collector c;
  RequestParams p = request({'a', 'b'}, 4);
  p.top_logprobs = 5;
  engine.submit(p, c.sink(0));
  c.wait(1);
  std::vector<TokenInfo> tokens;
  for (const auto& e : c.events[0]) tokens.insert(tokens.end(), e.tokens.begin(), e.tokens.end());
  ASSERT_EQ(tokens.size(), 4u);
  // The first token's distribution, recomputed in double from a fresh prefill.
  KvCache cache = model_->make_cache(8);
  std::vector<float> logits(cfg_.vocab_size);
  model_->forward(p.prompt, cache, AttnMode::Auto, false, logits.data());
  double mx = logits[0], sum = 0;
  for (float v : logits) mx = std::max<double>(mx, v);
  for (float v : logits) sum += std::exp(v - mx);
  const double lse = mx + std::log(sum);
  const TokenInfo& t = tokens[0];
  EXPECT_NEAR(t.logprob, logits[t.id] - lse, 1e-4);
  ASSERT_EQ(t.top.size(), 5u);
  EXPECT_EQ(t.top[0].id, t.id);  // greedy takes the most likely
  for (size_t k = 0; k < 5; ++k) {
    EXPECT_NEAR(t.top[k].logprob, logits[t.top[k].id] - lse, 1e-4);
    if (k) EXPECT_GE(t.top[k - 1].logprob, t.top[k].logprob);
  }
}

TEST_F(EngineTest, CancelFreesTheCacheAndTimeoutEnds) {
  EngineOptions eo;
  Engine engine(*model_, *tok_, eo);
  Collector c;
  RequestParams p = request({'a'}, 90);
  const uint64_t id = engine.submit(p, c.sink(0));
  engine.cancel(id);
  engine.cancel(12345);  // unknown ids are ignored
  RequestParams t = request({'b'}, 90);
  t.timeout_seconds = 1e-6;
  engine.submit(t, c.sink(1));
  c.wait(2);
  EXPECT_EQ(c.events[0].back().finish_reason, "cancelled");
  EXPECT_EQ(c.events[1].back().finish_reason, "timeout");
  for (int i = 0; i < 100 && engine.metrics().kv_blocks_used != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(engine.metrics().kv_blocks_used, 0);
  EXPECT_EQ(engine.metrics().requests_cancelled, 1u);
}

TEST_F(EngineTest, RefusesWhatCanNeverRun) {
  EngineOptions eo;
  eo.max_queue = 0;
  Engine full(*model_, *tok_, eo);
  EXPECT_THROW(full.submit(request({'a'}, 4), [](RequestEvent&&) {}), QueueFull);

  Engine engine(*model_, *tok_, EngineOptions{});
  auto refuse = [&](RequestParams p) { EXPECT_THROW(engine.submit(std::move(p), [](RequestEvent&&) {}), Error); };
  refuse(request({}, 4));
  refuse(request({300}, 4));
  refuse(request({-1}, 4));
  refuse(request({'a'}, 0));
  refuse(request({'a', 'b'}, 95));  // 2 + 95 > 96
  RequestParams p = request({'a'}, 4);
  p.top_logprobs = 21;
  refuse(p);
  p = request({'a'}, 4);
  p.sampling.temperature = -1;
  refuse(p);
  EXPECT_EQ(engine.max_context(), 96);
}

}  // namespace
}  // namespace mla
