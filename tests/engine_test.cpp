// The serving engine against the single-sequence generation loop: whatever the batching, paging,
// prefix sharing and preemption do, each request must get exactly the tokens it gets alone. Every
// test runs twice: on the whole model, and on the model split by layers into a pipeline of two
// stages in one process (testing/chained_pipeline.h: the other stage follows rank 0's cache through
// the block tables of each step, as the MPI ranks of `mpirun mla serve` do).
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
#include "testing/byte_tokenizer.h"
#include "testing/chained_pipeline.h"
#include "testing/tiny_models.h"

namespace mla {
namespace {

using testing::ByteTokenizer;

struct Outcome {
  std::vector<int32_t> ids;
  std::vector<TokenInfo> infos;
  std::string text, finish_reason;
  int64_t cached_prompt_tokens = -1, prompt_tokens = -1, completion_tokens = -1;
  bool done = false;
};

// Collects every request's events; wait() blocks until all have finished.
class Collector {
 public:
  EventSink sink(int key) {
    return [this, key](RequestEvent&& ev) {
      std::lock_guard lock(mu_);
      Outcome& o = out_[key];
      for (const auto& t : ev.tokens) {
        o.ids.push_back(t.id);
        o.infos.push_back(t);
      }
      o.text += ev.text;
      if (ev.finished) {
        o.done = true;
        o.finish_reason = ev.finish_reason;
        o.cached_prompt_tokens = ev.cached_prompt_tokens;
        o.prompt_tokens = ev.prompt_tokens;
        o.completion_tokens = ev.completion_tokens;
        cv_.notify_all();
      }
    };
  }
  std::map<int, Outcome> wait(size_t n) {
    std::unique_lock lock(mu_);
    const bool ok = cv_.wait_for(lock, std::chrono::seconds(60), [&] {
      size_t done = 0;
      for (auto& [k, o] : out_) done += o.done;
      return done == n;
    });
    EXPECT_TRUE(ok) << "requests did not finish";
    return out_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int, Outcome> out_;
};

// The parameter: "whole", or "pipeline" (layer 0 | layer 1).
class EngineTest : public ::testing::TestWithParam<std::string> {
 protected:
  EngineTest() : pool(2), cfg(testing::tiny_deepseek_v3()) {
    cfg.eos_token_id = 5;  // ends the sampled requests that do not ignore it
    auto build = [&](const Stage& stage) {
      return build_model(cfg, std::make_unique<RandomWeights>(DType::F32, 11, pool), pool, {}, stage);
    };
    whole = build(Stage{});
    model = GetParam() == "whole" ? build(Stage{}) : testing::chained_pipeline({0, 1, 2}, build);
  }

  // What the request gets alone, from the plain generation loop over a contiguous f32 cache.
  GenerateResult alone(const std::vector<int32_t>& prompt, int64_t max_tokens, std::vector<std::string> stop = {}) {
    Session session(*whole, cfg.max_position_embeddings);
    GenerateOptions o;
    o.max_tokens = max_tokens;
    o.ignore_eos = true;
    o.stop = std::move(stop);
    return session.generate(prompt, o, &tok);
  }

  RequestParams request(const std::vector<int32_t>& prompt, int64_t max_tokens) {
    RequestParams p;
    p.prompt = prompt;
    p.max_tokens = max_tokens;
    p.ignore_eos = true;
    return p;
  }

  // Polls until the engine thread has published metrics with no block in use.
  static EngineMetrics settled(const Engine& e) {
    for (int i = 0; i < 200; ++i) {
      const EngineMetrics m = e.metrics();
      if (m.kv_blocks_used == 0 && m.running == 0) return m;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return e.metrics();
  }

  EngineOptions options(int64_t n_blocks) {
    EngineOptions o;
    o.kv_type = kv::CacheDtype::F32;  // exact: compared with the f32 single-sequence loop
    o.block_tokens = 4;
    // [c_kv ; k_pe] = 40 f32 values per token per layer, 2 layers, 4 tokens per block.
    o.kv_mem_bytes = static_cast<size_t>(n_blocks) * 2 * 4 * 40 * sizeof(float);
    o.prefill_chunk = 5;  // prompts longer than this are prefilled over several steps
    return o;
  }

  ThreadPool pool;
  ModelConfig cfg;
  std::unique_ptr<Model> whole;  // the reference
  std::unique_ptr<Model> model;  // what the engine serves
  ByteTokenizer tok;
};

INSTANTIATE_TEST_SUITE_P(WholeAndSplit, EngineTest, ::testing::Values("whole", "pipeline"),
                         [](const auto& info) { return info.param; });

TEST_P(EngineTest, ConcurrentRequestsGetExactlyTheirSequentialTokensUnderPreemption) {
  std::vector<std::vector<int32_t>> prompts;
  for (int r = 0; r < 12; ++r) {
    std::vector<int32_t> p = {1, 2, 3, 4, 5};  // a shared first block for most
    if (r % 3 == 0) p = {int32_t(40 + r)};
    for (int i = 0; i < r % 7; ++i) p.push_back(int32_t((r * 13 + i * 7) % 90));
    prompts.push_back(p);
  }
  Collector c;
  EngineMetrics m;
  {
    Engine engine(*model, tok, options(8));  // 8 blocks of 4 tokens: about two requests at a time
    for (int r = 0; r < 12; ++r) engine.submit(request(prompts[r], 10 + r % 4), c.sink(r));
    const auto out = c.wait(12);
    for (int r = 0; r < 12; ++r) {
      const GenerateResult ref = alone(prompts[r], 10 + r % 4);
      EXPECT_EQ(out.at(r).ids, ref.ids) << "request " << r;
      EXPECT_EQ(out.at(r).text, ref.text) << "request " << r;
      EXPECT_EQ(out.at(r).finish_reason, "length");
      EXPECT_EQ(out.at(r).completion_tokens, 10 + r % 4);
      EXPECT_EQ(out.at(r).prompt_tokens, static_cast<int64_t>(prompts[r].size()));
    }
    m = settled(engine);
  }
  EXPECT_GT(m.preemptions, 0u) << "the budget was meant to force preemption";
  EXPECT_EQ(m.kv_blocks_used, 0);
  EXPECT_EQ(m.kv_blocks_total, 8);
  EXPECT_EQ(m.requests_finished, 12u);
  EXPECT_EQ(m.generated_tokens, uint64_t(12 * 10 + 3 * (0 + 1 + 2 + 3)));
}

TEST_P(EngineTest, SampledRequestsWithPenaltiesStopStringsAndEosMatchTheirSequentialRuns) {
  std::vector<RequestParams> reqs;
  reqs.push_back(request({7, 8, 9, 10, 11}, 20));
  reqs.push_back(request({1}, 12));
  reqs.back().sampling.temperature = 0.8f;
  reqs.back().sampling.seed = 11;
  reqs.push_back(request({23, 24, 25, 0, 26}, 25));
  reqs.back().sampling.temperature = 1.0f;
  reqs.back().sampling.top_k = 20;
  reqs.back().sampling.top_p = 0.9f;
  reqs.back().sampling.presence_penalty = 0.5f;
  reqs.back().sampling.seed = 3;
  reqs.push_back(request({12, 11, 1}, 30));
  reqs.back().sampling.repetition_penalty = 1.3f;
  reqs.back().sampling.frequency_penalty = 1.0f;
  reqs.push_back(request(reqs[0].prompt, 20));
  reqs.back().stop = {alone(reqs[0].prompt, 20).text.substr(6, 2)};
  for (auto& r : reqs) r.ignore_eos = false;

  EngineOptions o = options(16);
  o.max_running = 3;  // some requests wait and join later
  Collector c;
  Engine engine(*model, tok, o);
  for (size_t i = 0; i < reqs.size(); ++i) engine.submit(reqs[i], c.sink(static_cast<int>(i)));
  const auto out = c.wait(reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    Session session(*whole, cfg.max_position_embeddings);
    GenerateOptions g;
    g.max_tokens = reqs[i].max_tokens;
    g.sampling = reqs[i].sampling;
    g.stop = reqs[i].stop;
    const GenerateResult want = session.generate(reqs[i].prompt, g, &tok);
    const Outcome& got = out.at(static_cast<int>(i));
    EXPECT_EQ(got.ids, want.ids) << "request " << i;
    EXPECT_EQ(got.text, want.text) << "request " << i;
    EXPECT_EQ(got.finish_reason, want.finish_reason) << "request " << i;
  }
  EXPECT_EQ(out.at(4).finish_reason, "stop");
}

TEST_P(EngineTest, ARepeatedPromptReusesItsCachedBlocks) {
  const std::vector<int32_t> prompt = {5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17};  // 13 tokens
  Engine engine(*model, tok, options(32));
  Collector first, second;
  engine.submit(request(prompt, 6), first.sink(0));
  const Outcome a = first.wait(1).at(0);
  engine.submit(request(prompt, 6), second.sink(0));
  const Outcome b = second.wait(1).at(0);
  EXPECT_EQ(a.cached_prompt_tokens, 0);
  EXPECT_EQ(b.cached_prompt_tokens, 12);  // three full blocks; the last token is always computed
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.ids, alone(prompt, 6).ids);
  const EngineMetrics m = settled(engine);
  EXPECT_EQ(m.prefix_cache_hit_tokens, 12u);
  // Idle: every block free, the published ones still cached for the next request, none shared.
  EXPECT_EQ(m.kv_blocks_free, m.kv_blocks_total);
  EXPECT_GE(m.kv_blocks_cached, 3);
  EXPECT_EQ(m.kv_blocks_shared, 0);
  EXPECT_EQ(m.kv_type, kv::CacheDtype::F32);
  EXPECT_EQ(m.kv_block_tokens, 4);
  EXPECT_EQ(m.kv_bytes_per_token, 2u * 40 * sizeof(float));
  EXPECT_EQ(m.kv_bytes_total, static_cast<size_t>(m.kv_blocks_total) * 4 * m.kv_bytes_per_token);
}

TEST_P(EngineTest, APrefixReadByTwoRunningSequencesIsOneSetOfSharedBlocks) {
  const std::vector<int32_t> prompt = {5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17};  // 3 full blocks + 1
  Engine engine(*model, tok, options(32));
  std::mutex mu;
  std::condition_variable cv;
  bool first_token = false;
  // The first request's sink slows it to >= 1 ms a token, so it still runs when the second arrives.
  const uint64_t a = engine.submit(request(prompt, 40), [&](RequestEvent&&) {
    {
      std::lock_guard lock(mu);
      first_token = true;
    }
    cv.notify_all();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return first_token; }));
  }
  Collector second;
  const uint64_t b = engine.submit(request(prompt, 40), second.sink(0));
  EngineMetrics m;
  for (int i = 0; i < 3000; ++i) {
    m = engine.metrics();
    if (m.running == 2 && m.kv_blocks_shared > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(m.running, 2);
  EXPECT_EQ(m.kv_blocks_shared, 3);  // the prompt's full blocks, stored once for both
  EXPECT_EQ(m.kv_blocks_used + m.kv_blocks_free, m.kv_blocks_total);
  engine.cancel(a);
  engine.cancel(b);
  second.wait(1);
  m = settled(engine);
  EXPECT_EQ(m.kv_blocks_shared, 0);
  EXPECT_EQ(m.kv_blocks_used, 0);
}

TEST_P(EngineTest, CancellingARunningRequestFreesItsBlocks) {
  Engine engine(*model, tok, options(32));
  std::mutex mu;
  std::condition_variable cv;
  int events = 0;
  bool cancel_sent = false;
  std::string reason;
  const uint64_t id = engine.submit(request({1, 2, 3}, 55), [&](RequestEvent&& ev) {
    std::unique_lock lock(mu);
    ++events;
    if (ev.finished) reason = ev.finish_reason;
    cv.notify_all();
    // The engine thread waits in its first event until the cancel is in: the tiny model could
    // otherwise finish all 55 tokens first.
    if (events == 1) cv.wait(lock, [&] { return cancel_sent; });
  });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return events > 0; });
  }
  engine.cancel(id);
  {
    std::lock_guard lock(mu);
    cancel_sent = true;
  }
  cv.notify_all();
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return !reason.empty(); }));
  }
  EXPECT_EQ(reason, "cancelled");
  const EngineMetrics m = settled(engine);
  EXPECT_EQ(m.kv_blocks_used, 0);
  EXPECT_EQ(m.requests_cancelled, 1u);
  engine.cancel(id);  // already finished: ignored
  engine.cancel(12345);

  Collector c;
  RequestParams t = request({4, 5}, 50);
  t.timeout_seconds = 1e-6;
  engine.submit(t, c.sink(0));
  EXPECT_EQ(c.wait(1).at(0).finish_reason, "timeout");
  EXPECT_EQ(settled(engine).kv_blocks_used, 0);
}

TEST_P(EngineTest, StopStringsCutTheTextAndLogprobsDescribeTheChoice) {
  const std::vector<int32_t> prompt = {3, 1, 4, 1, 5};
  const GenerateResult full = alone(prompt, 12);
  const std::string stop = full.text.substr(4, 2);
  const GenerateResult ref = alone(prompt, 12, {stop});
  Engine engine(*model, tok, options(32));
  Collector c;
  RequestParams p = request(prompt, 12);
  p.stop = {stop};
  p.top_logprobs = 3;
  engine.submit(p, c.sink(0));
  const Outcome o = c.wait(1).at(0);
  EXPECT_EQ(o.text, ref.text);
  EXPECT_EQ(o.finish_reason, "stop");
  ASSERT_FALSE(o.infos.empty());
  // The first token's log-probabilities, recomputed in double from a fresh prefill.
  KvCache cache = whole->make_cache(8);
  std::vector<float> logits(cfg.vocab_size);
  whole->forward(prompt, cache, AttnMode::Auto, false, logits.data());
  double mx = logits[0], sum = 0;
  for (float v : logits) mx = std::max<double>(mx, v);
  for (float v : logits) sum += std::exp(v - mx);
  const double lse = mx + std::log(sum);
  for (const TopLogprob& t : o.infos[0].top) EXPECT_NEAR(t.logprob, logits[t.id] - lse, 1e-4);
  for (const TokenInfo& t : o.infos) {
    ASSERT_EQ(t.top.size(), 3u);
    EXPECT_EQ(t.top[0].id, t.id);  // greedy picks the most likely token
    EXPECT_FLOAT_EQ(t.top[0].logprob, t.logprob);
    EXPECT_GE(t.top[0].logprob, t.top[1].logprob);
    EXPECT_GE(t.top[1].logprob, t.top[2].logprob);
    EXPECT_LT(std::exp(t.top[0].logprob) + std::exp(t.top[1].logprob) + std::exp(t.top[2].logprob), 1.0f + 1e-5f);
  }
}

TEST_P(EngineTest, RefusesRequestsThatCanNeverRunAndAFullQueue) {
  Engine engine(*model, tok, options(8));
  Collector c;
  EXPECT_THROW(engine.submit(request({}, 4), c.sink(0)), Error);
  EXPECT_THROW(engine.submit(request({1, int32_t(cfg.vocab_size)}, 4), c.sink(0)), Error);
  EXPECT_THROW(engine.submit(request({1, 2}, 0), c.sink(0)), Error);
  EXPECT_THROW(engine.submit(request({1, 2}, cfg.max_position_embeddings), c.sink(0)), Error);  // beyond the context
  EXPECT_THROW(engine.submit(request({1, 2}, 40), c.sink(0)), Error);  // 42 tokens > 8 blocks x 4
  RequestParams bad = request({1, 2}, 4);
  bad.sampling.top_p = 0;
  EXPECT_THROW(engine.submit(bad, c.sink(0)), Error);
  bad = request({1, 2}, 4);
  bad.top_logprobs = 21;
  EXPECT_THROW(engine.submit(bad, c.sink(0)), Error);
  EXPECT_EQ(engine.max_context(), 8 * 4);  // the 8-block budget holds fewer tokens than the model's context
  Engine roomy(*model, tok, options(64));
  EXPECT_EQ(roomy.max_context(), cfg.max_position_embeddings);

  EngineOptions o = options(8);
  o.max_queue = 0;
  Engine full(*model, tok, o);
  EXPECT_THROW(full.submit(request({1, 2}, 4), c.sink(1)), QueueFull);
}

}  // namespace
}  // namespace mla
