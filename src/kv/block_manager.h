// Which cache blocks each serving sequence holds (the bookkeeping beside the block arena, as in
// vLLM's and nano-vllm's block managers). A block holds `block_tokens` consecutive tokens of a
// sequence in every layer. Full blocks are published under a hash of the whole token prefix they
// end (a chain: hash(parent hash, block tokens)), so another request with the same prefix takes them
// instead of recomputing them. Blocks are reference counted; at zero a published block stays findable
// until its storage is needed again, least recently released first (LRU eviction); never-published
// free blocks are handed out before any cached one is evicted.
#pragma once
#include <cstdint>
#include <list>
#include <span>
#include <unordered_map>
#include <vector>

namespace mla {

class BlockManager {
 public:
  static constexpr uint64_t kRootHash = 0x6a09e667f3bcc908ull;  // parent hash of a sequence's first block

  BlockManager(int64_t n_blocks, int64_t block_tokens);

  int64_t n_blocks() const { return static_cast<int64_t>(blocks_.size()); }
  int64_t block_tokens() const { return block_tokens_; }
  int64_t free_blocks() const { return static_cast<int64_t>(free_plain_.size() + free_cached_.size()); }
  int64_t used_blocks() const { return n_blocks() - free_blocks(); }
  int64_t cached_free_blocks() const { return static_cast<int64_t>(free_cached_.size()); }
  // Blocks held by more than one sequence: a prefix found in the cache while its first holder still
  // runs (each such block is stored once however many sequences read it).
  int64_t shared_blocks() const { return shared_; }

  // The published blocks holding the longest prefix of `tokens` made of full blocks, at most
  // `max_blocks` of them, each now referenced once more. hashes[i] is the chain hash ending block i.
  std::vector<int32_t> match_prefix(std::span<const int32_t> tokens, int64_t max_blocks, std::vector<uint64_t>& hashes);
  // A free block with one reference; throws mla::Error when none is free (callers check free_blocks()).
  int32_t allocate();
  // Drops one reference; at zero the block is free (and, if published, still findable until reused).
  void release(int32_t id);
  // Block `id` now holds the full block `block` (block_tokens tokens) following a prefix whose chain
  // hash is `parent`; publishes it and returns its own chain hash. A prefix already published under
  // another block stays with that block (this one remains private and is freed as such).
  uint64_t publish(int32_t id, uint64_t parent, std::span<const int32_t> block);

  static uint64_t chain_hash(uint64_t parent, std::span<const int32_t> block);

 private:
  struct Block {
    int32_t refs = 0;
    bool published = false;
    uint64_t hash = 0, parent = 0;
    std::vector<int32_t> tokens;                 // published blocks: their tokens, to rule out collisions
    std::list<int32_t>::iterator lru;            // position in free_cached_ while free and published
  };
  void unpublish(int32_t id);

  int64_t block_tokens_;
  std::vector<Block> blocks_;
  std::vector<int32_t> free_plain_;     // free, never published (or unpublished): taken first
  std::list<int32_t> free_cached_;      // free and published, least recently released first
  std::unordered_map<uint64_t, int32_t> by_hash_;
  int64_t shared_ = 0;  // blocks with refs >= 2
};

}  // namespace mla
