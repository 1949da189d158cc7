#include "kv/block_manager.h"

#include <algorithm>

#include "core/error.h"

namespace mla {

namespace {

uint64_t mix(uint64_t x) {  // splitmix64's finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

BlockManager::BlockManager(int64_t n_blocks, int64_t block_tokens) : block_tokens_(block_tokens) {
  if (n_blocks <= 0 || block_tokens <= 0)
    fail("block manager needs at least one block of at least one token, got ", n_blocks, " x ", block_tokens);
  blocks_.resize(static_cast<size_t>(n_blocks));
  free_plain_.reserve(blocks_.size());
  for (int64_t i = n_blocks - 1; i >= 0; --i) free_plain_.push_back(static_cast<int32_t>(i));  // block 0 first
}

uint64_t BlockManager::chain_hash(uint64_t parent, std::span<const int32_t> block) {
  uint64_t h = mix(parent ^ 0x9e3779b97f4a7c15ull);
  for (int32_t t : block) h = mix(h ^ (static_cast<uint64_t>(static_cast<uint32_t>(t)) + 0x9e3779b97f4a7c15ull));
  return h;
}

std::vector<int32_t> BlockManager::match_prefix(std::span<const int32_t> tokens, int64_t max_blocks,
                                                std::vector<uint64_t>& hashes) {
  std::vector<int32_t> ids;
  hashes.clear();
  uint64_t parent = kRootHash;
  const int64_t full = std::min<int64_t>(max_blocks, static_cast<int64_t>(tokens.size()) / block_tokens_);
  for (int64_t i = 0; i < full; ++i) {
    const auto block = tokens.subspan(static_cast<size_t>(i * block_tokens_), static_cast<size_t>(block_tokens_));
    const uint64_t h = chain_hash(parent, block);
    const auto it = by_hash_.find(h);
    if (it == by_hash_.end()) break;
    Block& b = blocks_[static_cast<size_t>(it->second)];
    if (b.parent != parent || !std::equal(block.begin(), block.end(), b.tokens.begin(), b.tokens.end())) break;
    if (b.refs == 0) free_cached_.erase(b.lru);
    if (++b.refs == 2) ++shared_;
    ids.push_back(it->second);
    hashes.push_back(h);
    parent = h;
  }
  return ids;
}

int32_t BlockManager::allocate() {
  int32_t id;
  if (!free_plain_.empty()) {
    id = free_plain_.back();
    free_plain_.pop_back();
  } else if (!free_cached_.empty()) {
    id = free_cached_.front();  // evict the least recently released prefix block
    free_cached_.pop_front();
    unpublish(id);
  } else {
    fail("KV cache: no free block (", n_blocks(), " blocks in use)");
  }
  blocks_[static_cast<size_t>(id)].refs = 1;
  return id;
}

void BlockManager::release(int32_t id) {
  Block& b = blocks_.at(static_cast<size_t>(id));
  if (b.refs <= 0) fail("KV cache: block ", id, " released more often than taken");
  if (b.refs == 2) --shared_;
  if (--b.refs > 0) return;
  if (b.published) {
    free_cached_.push_back(id);
    b.lru = std::prev(free_cached_.end());
  } else {
    free_plain_.push_back(id);
  }
}

uint64_t BlockManager::publish(int32_t id, uint64_t parent, std::span<const int32_t> block) {
  if (static_cast<int64_t>(block.size()) != block_tokens_)
    fail("KV cache: publishing a block of ", block.size(), " tokens, blocks hold ", block_tokens_);
  const uint64_t h = chain_hash(parent, block);
  Block& b = blocks_.at(static_cast<size_t>(id));
  if (b.published || by_hash_.count(h)) return h;
  b.published = true;
  b.hash = h;
  b.parent = parent;
  b.tokens.assign(block.begin(), block.end());
  by_hash_.emplace(h, id);
  return h;
}

void BlockManager::unpublish(int32_t id) {
  Block& b = blocks_[static_cast<size_t>(id)];
  if (!b.published) return;
  by_hash_.erase(b.hash);
  b.published = false;
  b.tokens.clear();
}

}  // namespace mla
