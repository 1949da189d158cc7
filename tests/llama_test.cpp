// Llama (MHA / GQA / MQA) on the shared attention core and KV cache: batched decoding equals
// decoding alone, a prefill equals token-by-token decoding at every position, and the identity
// "GQA == MHA whose K/V heads are the GQA heads repeated" holds to rounding. RoPE frequencies and
// the half-split rotation are checked against Hugging Face's formulas written out here.
#include "model/llama.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <vector>

#include "core/error.h"
#include "engine/generate.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "model/model.h"
#include "model/random_weights.h"
#include "testing/max_abs.h"
#include "testing/tiny_models.h"

namespace mla {
namespace {

using testing::max_abs;

using testing::tiny_llama;

struct Variant {
  const char* name;
  ModelConfig cfg;
};

std::vector<Variant> variants() {
  return {{"mha", tiny_llama(4, 4)},
          {"gqa", tiny_llama(6, 2, true, true)},
          {"mqa", tiny_llama(4, 1, false, true)}};
}

TEST(Llama, CacheRowAndParams) {
  ThreadPool pool(2);
  for (const auto& [name, cfg] : variants()) {
    auto model = build_model(cfg, std::make_unique<RandomWeights>(DType::F32, 1, pool), pool);
    const int64_t H = cfg.num_attention_heads, Hkv = cfg.num_key_value_heads, hd = cfg.head_dim,
                  D = cfg.hidden_size, V = cfg.vocab_size, I = cfg.intermediate_size;
    KvCache cache = model->make_cache(8);
    EXPECT_EQ(cache.row_width(), 2 * Hkv * hd) << name;
    EXPECT_EQ(cache.bytes_per_token(), static_cast<size_t>(cfg.num_hidden_layers * 2 * Hkv * hd * 4)) << name;
    const int64_t per_layer = 2 * D + (H * hd * D) * 2 + 2 * (Hkv * hd * D) + 3 * D * I;
    const int64_t expect = V * D * (cfg.tie_word_embeddings ? 1 : 2) + D + cfg.num_hidden_layers * per_layer;
    EXPECT_EQ(model->params().total, expect) << name;
    EXPECT_EQ(model->params().active, expect) << name;
  }
}

// With f32 products: the dot-product kernels round activations to bf16 before every product, and a
// last-bit difference between the prefill and decode sums (f32 summation order) can flip such a
// rounding at some positions, moving their logits by ~1e-3 of the largest: measured, not a cache or
// position error. The kernels' own agreement is kernels_test's (Bf16Decode, MatmulTest).
TEST(Llama, PrefillEqualsTokenByTokenDecode) {
  set_kernel_path(KernelPath::NoVnni);
  ThreadPool pool(3);
  for (const auto& [name, cfg] : variants()) {
    auto model = build_model(cfg, std::make_unique<RandomWeights>(DType::BF16, 7, pool), pool);
    const int64_t V = cfg.vocab_size;
    std::vector<int32_t> tokens;
    for (int i = 0; i < 40; ++i) tokens.push_back((i * 37 + 11) % V);
    KvCache a = model->make_cache(64), b = model->make_cache(64);
    std::vector<float> prefill(tokens.size() * V), decode(tokens.size() * V);
    model->forward(tokens, a, AttnMode::Auto, true, prefill.data());
    for (size_t t = 0; t < tokens.size(); ++t)
      model->forward({&tokens[t], 1}, b, AttnMode::Auto, false, decode.data() + t * V);
    EXPECT_EQ(a.n_tokens(), 40);
    EXPECT_EQ(b.n_tokens(), 40);
    const float tol = 1e-5f * (1 + max_abs(prefill));
    for (size_t i = 0; i < prefill.size(); ++i)
      ASSERT_NEAR(prefill[i], decode[i], tol) << name << " position " << i / V;
    // A prefill's last-token logits equal its all-logits last row.
    KvCache c = model->make_cache(64);
    std::vector<float> last(V);
    model->forward(tokens, c, AttnMode::Auto, false, last.data());
    for (int64_t v = 0; v < V; ++v) ASSERT_NEAR(last[v], prefill[(tokens.size() - 1) * V + v], tol) << name;
  }
  set_kernel_path(KernelPath::Auto);
}

// A prompt longer than one chunk (256 rows), then continued in two pieces: same logits.
TEST(Llama, ChunkedPrefillEqualsPieces) {
  ThreadPool pool(3);
  const ModelConfig cfg = tiny_llama(4, 2, false, true);
  auto model = build_model(cfg, std::make_unique<RandomWeights>(DType::F32, 5, pool), pool);
  const int64_t V = cfg.vocab_size, T = 300;
  std::vector<int32_t> tokens;
  for (int i = 0; i < T; ++i) tokens.push_back((i * 13 + 5) % V);
  KvCache whole = model->make_cache(T), parts = model->make_cache(T);
  std::vector<float> a(T * V), b(T * V);
  model->forward(tokens, whole, AttnMode::Auto, true, a.data());
  model->forward(std::span(tokens).subspan(0, 100), parts, AttnMode::Auto, true, b.data());
  model->forward(std::span(tokens).subspan(100), parts, AttnMode::Auto, true, b.data() + 100 * V);
  const float tol = 1e-5f * (1 + max_abs(a));
  for (int64_t i = 0; i < T * V; ++i) ASSERT_NEAR(a[i], b[i], tol) << "position " << i / V;
  EXPECT_THROW(model->forward(std::span(tokens).subspan(0, 1), whole, AttnMode::Auto, false, a.data()), Error);
}

TEST(Llama, DecodeBatchEqualsDecodingEachAlone) {
  ThreadPool pool(2);
  for (const auto& [name, cfg] : variants()) {
    auto model = build_model(cfg, std::make_unique<RandomWeights>(DType::F16, 3, pool), pool);
    const std::vector<std::vector<int32_t>> prompts = {{1, 2, 3}, {4, 5, 6, 7, 8}, {9}};
    const int64_t V = cfg.vocab_size;
    std::vector<KvCache> alone, together;
    std::vector<float> logits(V);
    for (const auto& p : prompts) {
      alone.push_back(model->make_cache(16));
      together.push_back(model->make_cache(16));
      model->forward(p, alone.back(), AttnMode::Auto, false, logits.data());
      model->forward(p, together.back(), AttnMode::Auto, false, logits.data());
    }
    for (int step = 0; step < 3; ++step) {
      const std::vector<int32_t> next = {int32_t(10 + step), int32_t(20 + step), int32_t(30 + step)};
      std::vector<KvCache*> caches = {&together[0], &together[1], &together[2]};
      std::vector<float> batched(3 * V);
      model->decode_batch(next, caches, AttnMode::Auto, batched.data());
      for (int b = 0; b < 3; ++b) {
        model->forward({&next[b], 1}, alone[b], AttnMode::Auto, false, logits.data());
        EXPECT_EQ(together[b].n_tokens(), alone[b].n_tokens());
        for (int64_t v = 0; v < V; ++v)
          ASSERT_NEAR(batched[b * V + v], logits[v], 1e-5f * (1 + std::fabs(logits[v])))
              << name << " step " << step << " seq " << b;
      }
    }
  }
}

// Weights held in memory under their HF names (f32).
class MapWeights : public WeightSource {
 public:
  void put(const std::string& name, std::vector<int64_t> shape, std::vector<float> values) {
    Entry& e = map_[name];
    e.values = std::move(values);
    e.view = TensorView{name, DType::F32, std::move(shape), reinterpret_cast<const uint8_t*>(e.values.data()),
                        e.values.size() * sizeof(float), &origin_};
  }
  bool has(const std::string& name) const override { return map_.count(name) != 0; }
  const TensorView& get(const std::string& name, const std::vector<int64_t>& shape) const override {
    auto it = map_.find(name);
    if (it == map_.end()) fail("test weights: no tensor ", name);
    if (it->second.view.shape != shape) fail("test weights: ", name, " shape mismatch");
    return it->second.view;
  }

 private:
  struct Entry {
    std::vector<float> values;
    TensorView view;
  };
  std::map<std::string, Entry> map_;
  std::string origin_ = "test weights";
};

std::vector<float> as_f32(const TensorView& t) {
  std::vector<float> v(t.numel());
  std::memcpy(v.data(), t.data, t.nbytes);
  return v;
}

// GQA == MHA with each K/V head repeated for its group (HF repeat_kv), and MQA likewise.
TEST(Llama, GqaEqualsMhaWithRepeatedKvHeads) {
  ThreadPool pool(2);
  for (int64_t n_head_kv : {2, 1}) {
    const ModelConfig gqa = tiny_llama(6, n_head_kv, false, true);
    ModelConfig mha = gqa;
    mha.num_key_value_heads = gqa.num_attention_heads;
    const int64_t D = gqa.hidden_size, H = gqa.num_attention_heads, hd = gqa.head_dim, I = gqa.intermediate_size,
                  V = gqa.vocab_size, group = H / n_head_kv;

    // Draw the GQA model's weights, then copy them into both sources.
    RandomWeights rnd(DType::F32, 11, pool);
    auto gqa_w = std::make_unique<MapWeights>(), mha_w = std::make_unique<MapWeights>();
    auto both = [&](const std::string& name, std::vector<int64_t> shape) {
      std::vector<float> v = as_f32(rnd.get(name, shape));
      gqa_w->put(name, shape, v);
      mha_w->put(name, shape, v);
    };
    both("model.embed_tokens.weight", {V, D});
    both("model.norm.weight", {D});
    both("lm_head.weight", {V, D});
    for (int64_t l = 0; l < gqa.num_hidden_layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l);
      both(p + ".input_layernorm.weight", {D});
      both(p + ".post_attention_layernorm.weight", {D});
      both(p + ".self_attn.q_proj.weight", {H * hd, D});
      both(p + ".self_attn.o_proj.weight", {D, H * hd});
      both(p + ".mlp.gate_proj.weight", {I, D});
      both(p + ".mlp.up_proj.weight", {I, D});
      both(p + ".mlp.down_proj.weight", {D, I});
      for (const char* kv : {".self_attn.k_proj.weight", ".self_attn.v_proj.weight"}) {
        std::vector<float> w = as_f32(rnd.get(p + kv, {n_head_kv * hd, D}));
        gqa_w->put(p + kv, {n_head_kv * hd, D}, w);
        std::vector<float> rep(H * hd * D);
        for (int64_t h = 0; h < H; ++h)  // MHA head h = GQA kv head h / group
          std::copy_n(w.data() + (h / group) * hd * D, hd * D, rep.data() + h * hd * D);
        mha_w->put(p + kv, {H * hd, D}, rep);
      }
    }
    auto a = build_model(gqa, std::move(gqa_w), pool);
    auto b = build_model(mha, std::move(mha_w), pool);
    EXPECT_EQ(a->make_cache(1).row_width() * group, b->make_cache(1).row_width());

    std::vector<int32_t> tokens;
    for (int i = 0; i < 24; ++i) tokens.push_back((i * 29 + 3) % V);
    KvCache ca = a->make_cache(32), cb = b->make_cache(32);
    std::vector<float> la(tokens.size() * V), lb(tokens.size() * V);
    a->forward(tokens, ca, AttnMode::Auto, true, la.data());
    b->forward(tokens, cb, AttnMode::Auto, true, lb.data());
    const float tol = 1e-6f * (1 + max_abs(la));
    for (size_t i = 0; i < la.size(); ++i) ASSERT_NEAR(la[i], lb[i], tol) << "n_head_kv " << n_head_kv;
    // And one decode step on top.
    const int32_t next = 42;
    std::vector<float> da(V), db(V);
    a->forward({&next, 1}, ca, AttnMode::Auto, false, da.data());
    b->forward({&next, 1}, cb, AttnMode::Auto, false, db.data());
    for (int64_t v = 0; v < V; ++v) ASSERT_NEAR(da[v], db[v], tol);
  }
}

// HF Llama: inv_freq = theta^(-2i/d); llama3 keeps short wavelengths, divides long ones by factor,
// blends between. Values for Llama-3.1's published scaling (theta 500000, head_dim 128).
TEST(Llama, Llama3RopeFrequencies) {
  ModelConfig c = tiny_llama(4, 4);
  c.head_dim = 128;
  c.rope_theta = 500000;
  std::vector<double> plain = llama_rope_inv_freq(c);
  ASSERT_EQ(plain.size(), 64u);
  for (int i = 0; i < 64; ++i) EXPECT_DOUBLE_EQ(plain[i], std::pow(500000.0, -2.0 * i / 128));

  RopeScaling s;
  s.type = RopeType::Llama3;
  s.factor = 8;
  s.low_freq_factor = 1;
  s.high_freq_factor = 4;
  s.original_max_position_embeddings = 8192;
  c.rope_scaling = s;
  std::vector<double> scaled = llama_rope_inv_freq(c);
  int kept = 0, divided = 0, blended = 0;
  for (int i = 0; i < 64; ++i) {
    const double wavelen = 2 * M_PI / plain[i];
    if (wavelen < 8192.0 / 4) {
      EXPECT_DOUBLE_EQ(scaled[i], plain[i]);
      ++kept;
    } else if (wavelen > 8192.0 / 1) {
      EXPECT_DOUBLE_EQ(scaled[i], plain[i] / 8);
      ++divided;
    } else {
      const double smooth = (8192.0 / wavelen - 1) / (4 - 1);
      EXPECT_NEAR(scaled[i], (1 - smooth) * plain[i] / 8 + smooth * plain[i], 1e-15);
      EXPECT_LT(scaled[i], plain[i]);
      EXPECT_GT(scaled[i], plain[i] / 8);
      ++blended;
    }
  }
  EXPECT_GT(kept, 0);
  EXPECT_GT(divided, 0);
  EXPECT_GT(blended, 0);
  // The first pair's wavelength (2π) is far below 2048: unchanged; the last far above 8192: / 8.
  EXPECT_DOUBLE_EQ(scaled[0], 1.0);
  EXPECT_DOUBLE_EQ(scaled[63], plain[63] / 8);
}

// rope_half_split == HF apply_rotary_pos_emb: x * cat(cos, cos) + rotate_half(x) * cat(sin, sin),
// rotate_half(x) = cat(-x[d/2:], x[:d/2]).
TEST(Llama, HalfSplitRopeMatchesRotateHalf) {
  const int64_t d = 10, half = d / 2;
  std::vector<float> x(d), cos(half), sin(half);
  for (int64_t i = 0; i < d; ++i) x[i] = 0.3f * i - 1.1f;
  for (int64_t i = 0; i < half; ++i) {
    cos[i] = std::cos(0.7f * (i + 1));
    sin[i] = std::sin(0.7f * (i + 1));
  }
  std::vector<float> expect(d);
  for (int64_t i = 0; i < d; ++i) {
    const float rot = i < half ? -x[i + half] : x[i - half];
    expect[i] = x[i] * cos[i % half] + rot * sin[i % half];
  }
  rope_half_split(x.data(), cos.data(), sin.data(), d);
  for (int64_t i = 0; i < d; ++i) EXPECT_NEAR(x[i], expect[i], 1e-6f) << i;
}

TEST(Llama, BadTokensAndMissingTensors) {
  ThreadPool pool(1);
  const ModelConfig cfg = tiny_llama(4, 2);
  auto model = build_model(cfg, std::make_unique<RandomWeights>(DType::F32, 1, pool), pool);
  KvCache cache = model->make_cache(4);
  std::vector<float> logits(cfg.vocab_size);
  const int32_t bad = static_cast<int32_t>(cfg.vocab_size);
  EXPECT_THROW(model->forward({&bad, 1}, cache, AttnMode::Auto, false, logits.data()), Error);
  try {
    build_model(cfg, std::make_unique<MapWeights>(), pool);
    ADD_FAILURE() << "built from no weights";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.embed_tokens.weight"), std::string::npos) << e.what();
  }
}

// Llama-3-Instruct ends a turn with <|eot_id|>, not its eos_token_id's first entry: generation
// stops at any id of the list.
TEST(Llama, GenerationStopsAtAnyEosId) {
  ThreadPool pool(2);
  ModelConfig cfg = tiny_llama(4, 2);
  const std::vector<int32_t> prompt = {5, 6, 7};
  GenerateOptions opts;
  opts.max_tokens = 12;
  opts.sampling.temperature = 0;
  opts.ignore_eos = true;
  auto free_model = build_model(cfg, std::make_unique<RandomWeights>(DType::F32, 9, pool), pool);
  Session free_run(*free_model, 32);
  const std::vector<int32_t> ids = free_run.generate(prompt, opts, nullptr).ids;
  ASSERT_EQ(ids.size(), 12u);
  // An eos list whose second entry is the 4th generated id (and whose first is never generated).
  const int32_t stop_id = ids[3];
  if (std::find(ids.begin(), ids.begin() + 3, stop_id) != ids.begin() + 3) GTEST_SKIP() << "id repeats early";
  int32_t never = 0;
  while (std::find(ids.begin(), ids.end(), never) != ids.end()) ++never;
  cfg.eos_token_id = never;
  cfg.eos_token_ids = {never, stop_id};
  auto model = build_model(cfg, std::make_unique<RandomWeights>(DType::F32, 9, pool), pool);
  Session session(*model, 32);
  opts.ignore_eos = false;
  GenerateResult r = session.generate(prompt, opts, nullptr);
  EXPECT_EQ(r.ids, std::vector<int32_t>(ids.begin(), ids.begin() + 3));
  EXPECT_EQ(r.finish_reason, "stop");
}

}  // namespace
}  // namespace mla
