// The BPE model of a tokenizer.json (Sennrich et al. 2016, applied to bytes as GPT-2 does): a piece
// starts as one token per byte, then the adjacent pair with the lowest merge rank is merged, again and
// again, until no adjacent pair has a merge.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace mla {

// The largest token id a tokenizer.json may use. The tokenizer keeps one entry per id up to the
// largest (vocabularies may have holes), so an id is bounded before anything is sized by it; the
// largest published vocabularies are near 2^18.
inline constexpr int32_t kMaxTokenId = (1 << 22) - 1;

// A token id as tokenizer.json writes it ("vocab" values, "added_tokens" ids): an integer in
// [0, kMaxTokenId], else mla::Error naming `where`.
int32_t token_id_from_json(const nlohmann::json& id, const std::string& where);

class Bpe {
 public:
  // `model` is tokenizer.json's "model" (type BPE); `path` is for errors.
  static Bpe from_json(const nlohmann::json& model, const std::string& path);

  // Appends the ids of one pre-token (raw bytes, non-empty).
  void encode(std::string_view piece, std::vector<int32_t>& ids) const;

  // The vocabulary as the file spells it (byte-level characters): spelling -> id.
  const std::unordered_map<std::string, int32_t>& vocab() const { return vocab_; }

 private:
  struct Merge {
    int32_t rank;  // position in the merges list: lower merges first
    int32_t id;    // the merged token
  };
  static uint64_t pair_key(int32_t left, int32_t right) {
    return static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32 | static_cast<uint32_t>(right);
  }

  std::unordered_map<std::string, int32_t> vocab_;
  std::unordered_map<std::string, int32_t> id_of_bytes_;  // raw bytes -> id, only for ignore_merges
  std::array<int32_t, 256> byte_id_{};                        // each byte's own token
  std::unordered_map<uint64_t, Merge> merges_;                // (left id, right id) -> merge
  // Llama-3's option: a pre-token that is itself in the vocabulary is one token, merges or not.
  bool ignore_merges_ = false;
};

}  // namespace mla
