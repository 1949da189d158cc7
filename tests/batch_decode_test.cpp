// Batched decoding (one pass over the weights for several sequences) must give each sequence
// exactly what decoding it alone gives.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "model/model.h"
#include "model/random_weights.h"
#include "testing/tiny_models.h"

namespace mla {
namespace {

using testing::tiny_deepseek_v3;

TEST(BatchDecode, EqualsDecodingEachSequenceAlone) {
  ThreadPool pool(2);
  const ModelConfig cfg = tiny_deepseek_v3();
  auto model = build_model(cfg, std::make_unique<RandomWeights>(DType::F32, 3, pool), pool);
  const std::vector<std::vector<int32_t>> prompts = {{1, 2, 3}, {4, 5, 6, 7, 8}, {9}};
  const int64_t V = cfg.vocab_size;
  for (AttnMode mode : {AttnMode::Naive, AttnMode::Absorbed}) {
    std::vector<KvCache> alone, together;
    std::vector<float> logits(V);
    for (const auto& p : prompts) {
      alone.push_back(model->make_cache(16));
      together.push_back(model->make_cache(16));
      model->forward(p, alone.back(), mode, false, logits.data());
      model->forward(p, together.back(), mode, false, logits.data());
    }
    for (int step = 0; step < 3; ++step) {
      const std::vector<int32_t> next = {int32_t(10 + step), int32_t(20 + step), int32_t(30 + step)};
      std::vector<KvCache*> caches = {&together[0], &together[1], &together[2]};
      std::vector<float> batched(3 * V);
      model->decode_batch(next, caches, mode, batched.data());
      for (int b = 0; b < 3; ++b) {
        model->forward({&next[b], 1}, alone[b], mode, false, logits.data());
        EXPECT_EQ(together[b].n_tokens(), alone[b].n_tokens());
        for (int64_t v = 0; v < V; ++v)
          ASSERT_NEAR(batched[b * V + v], logits[v], 1e-5f * (1 + std::fabs(logits[v])))
              << attn_mode_name(mode) << " step " << step << " seq " << b;
      }
    }
  }
}

}  // namespace
}  // namespace mla
