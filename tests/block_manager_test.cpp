// Block bookkeeping for serving: prefix sharing by chained hashes, reference counts, LRU eviction.
#include <gtest/gtest.h>

#include <numeric>

#include "core/error.h"
#include "kv/block_manager.h"

namespace mla {
namespace {

// Allocates and publishes the full blocks of `tokens` as one sequence would while prefilling.
std::vector<int32_t> fill(BlockManager& bm, const std::vector<int32_t>& tokens) {
  std::vector<int32_t> ids;
  uint64_t parent = BlockManager::kRootHash;
  const int64_t B = bm.block_tokens();
  for (size_t i = 0; i + B <= tokens.size(); i += B) {
    ids.push_back(bm.allocate());
    parent = bm.publish(ids.back(), parent, std::span(tokens).subspan(i, B));
  }
  return ids;
}

std::vector<int32_t> seq(int n, int start = 0) {
  std::vector<int32_t> t(n);
  std::iota(t.begin(), t.end(), start);
  return t;
}

TEST(BlockManager, SharesFullBlocksOfACommonPrefixAndCountsReferences) {
  BlockManager bm(8, 4);
  const auto a = seq(10);  // two full blocks + 2 tokens
  const auto ids = fill(bm, a);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(bm.used_blocks(), 2);

  auto b = seq(8);
  b.push_back(99);  // same first 8 tokens
  std::vector<uint64_t> hashes;
  const auto hit = bm.match_prefix(b, 10, hashes);
  EXPECT_EQ(hit, ids);
  EXPECT_EQ(hashes.size(), 2u);
  EXPECT_EQ(bm.used_blocks(), 2);  // shared, not copied
  EXPECT_EQ(bm.shared_blocks(), 2);

  // A prefix that differs in the first block matches nothing; max_blocks caps the match.
  auto c = seq(8);
  c[0] = 7;
  EXPECT_TRUE(bm.match_prefix(c, 10, hashes).empty());
  EXPECT_EQ(bm.match_prefix(a, 1, hashes).size(), 1u);

  // Refs: fill (1) + b (1) + the capped match (1 on the first block).
  EXPECT_EQ(bm.shared_blocks(), 2);  // counted once however many hold it
  bm.release(ids[0]);
  bm.release(ids[0]);
  EXPECT_EQ(bm.shared_blocks(), 1);
  bm.release(ids[1]);
  EXPECT_EQ(bm.used_blocks(), 2);
  EXPECT_EQ(bm.shared_blocks(), 0);
  bm.release(ids[0]);
  bm.release(ids[1]);
  EXPECT_EQ(bm.used_blocks(), 0);
  EXPECT_EQ(bm.free_blocks(), 8);
  EXPECT_EQ(bm.cached_free_blocks(), 2);  // free but still findable
  EXPECT_EQ(bm.match_prefix(a, 10, hashes), ids);  // found again from the cache: one holder, not shared
  EXPECT_EQ(bm.shared_blocks(), 0);
  EXPECT_THROW(bm.release(7), Error);  // never taken
}

TEST(BlockManager, TheSameBlockTokensAfterADifferentPrefixAreNotShared) {
  BlockManager bm(8, 2);
  fill(bm, {1, 2, 3, 4});
  std::vector<uint64_t> hashes;
  EXPECT_TRUE(bm.match_prefix(std::vector<int32_t>{3, 4}, 4, hashes).empty());  // [3 4] followed [1 2] before
  EXPECT_EQ(bm.match_prefix(std::vector<int32_t>{1, 2, 9, 9}, 4, hashes).size(), 1u);
}

TEST(BlockManager, EvictsCachedBlocksOnlyWhenNoPlainBlockIsLeftLeastRecentlyReleasedFirst) {
  BlockManager bm(4, 2);
  const auto x = fill(bm, {1, 2});
  const auto y = fill(bm, {5, 6});
  bm.release(x[0]);  // released first: evicted first
  bm.release(y[0]);
  std::vector<uint64_t> hashes;
  // Two plain blocks remain; taking them evicts nothing.
  bm.allocate();
  bm.allocate();
  EXPECT_EQ(bm.match_prefix(std::vector<int32_t>{1, 2}, 1, hashes), x);
  bm.release(x[0]);  // now y is the least recently released
  EXPECT_EQ(bm.allocate(), y[0]);
  EXPECT_TRUE(bm.match_prefix(std::vector<int32_t>{5, 6}, 1, hashes).empty());
  EXPECT_EQ(bm.match_prefix(std::vector<int32_t>{1, 2}, 1, hashes), x);
  EXPECT_EQ(bm.free_blocks(), 0);
  EXPECT_THROW(bm.allocate(), Error);
}

TEST(BlockManager, ADuplicatePrefixStaysWithItsFirstBlock) {
  BlockManager bm(4, 2);
  const auto first = fill(bm, {1, 2});
  const auto second = fill(bm, {1, 2});  // computed again by a request admitted before the first finished
  ASSERT_NE(first, second);
  bm.release(second[0]);
  EXPECT_EQ(bm.cached_free_blocks(), 0);  // the duplicate is freed as a private block
  std::vector<uint64_t> hashes;
  EXPECT_EQ(bm.match_prefix(std::vector<int32_t>{1, 2}, 1, hashes), first);
}

TEST(BlockManager, RejectsEmptyShapesAndWrongBlockSizes) {
  EXPECT_THROW(BlockManager(0, 16), Error);
  EXPECT_THROW(BlockManager(4, 0), Error);
  BlockManager bm(2, 4);
  const int32_t id = bm.allocate();
  EXPECT_THROW(bm.publish(id, BlockManager::kRootHash, std::vector<int32_t>{1, 2}), Error);
}

}  // namespace
}  // namespace mla
