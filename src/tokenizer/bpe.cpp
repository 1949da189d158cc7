#include "tokenizer/bpe.h"

#include <algorithm>
#include <functional>

#include "core/error.h"
#include "tokenizer/byte_level.h"

namespace mla {
namespace {

using nlohmann::json;

// A merges entry: "a b" (most files) or ["a", "b"] (newer files, which allow spaces in tokens).
std::pair<std::string, std::string> merge_parts(const json& m, size_t rank, const std::string& where) {
  if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
    return {m[0].get<std::string>(), m[1].get<std::string>()};
  if (m.is_string()) {
    const std::string& s = m.get_ref<const std::string&>();
    const size_t space = s.find(' ');
    if (space != std::string::npos && s.find(' ', space + 1) == std::string::npos)
      return {s.substr(0, space), s.substr(space + 1)};
  }
  fail(where, ": merge ", rank, " is not \"a b\" or [\"a\", \"b\"]: ", m.dump());
}

}  // namespace

int32_t token_id_from_json(const json& id, const std::string& where) {
  // Checked as an integer first: get<int32_t>() of 1e20 or 2^40 would not say so (a float cast out
  // of range is undefined behaviour).
  if (!id.is_number_integer()) fail(where, ": id must be an integer, got ", id.type_name());
  if (id.is_number_unsigned() ? id.get<uint64_t>() > static_cast<uint64_t>(kMaxTokenId)
                              : id.get<int64_t>() < 0 || id.get<int64_t>() > kMaxTokenId)
    fail(where, ": id ", id.dump(), " is outside [0, ", kMaxTokenId, "]");
  return static_cast<int32_t>(id.get<int64_t>());
}

Bpe Bpe::from_json(const json& model, const std::string& path) {
  const std::string where = path + ": model";
  Bpe bpe;
  try {
    const std::string type = model.at("type").get<std::string>();
    if (type != "BPE") fail(where, ": type ", type, " is not supported (only BPE)");
    // Options that change what encode produces; a byte-level vocabulary never needs them.
    if (model.value("byte_fallback", false)) fail(where, ": byte_fallback true is not supported");
    if (!model.value("continuing_subword_prefix", json()).is_null() ||
        !model.value("end_of_word_suffix", json()).is_null())
      fail(where, ": continuing_subword_prefix / end_of_word_suffix are not supported");
    if (const json dropout = model.value("dropout", json()); !dropout.is_null() && dropout.get<double>() != 0)
      fail(where, ": dropout is not supported");
    bpe.ignore_merges_ = model.value("ignore_merges", false);

    const json& vocab = model.at("vocab");
    bpe.vocab_.reserve(vocab.size());
    for (const auto& [spelling, id_json] : vocab.items())
      bpe.vocab_.emplace(spelling, token_id_from_json(id_json, str(where, ": token ", json(spelling).dump())));
    for (unsigned b = 0; b < 256; ++b) {
      const std::string spelling = byte_level::from_bytes(std::string(1, static_cast<char>(b)));
      auto it = bpe.vocab_.find(spelling);
      if (it == bpe.vocab_.end())
        fail(where, ": vocab has no token for byte ", b, " (", spelling, "), so it is not a byte-level BPE");
      bpe.byte_id_[b] = it->second;
    }
    if (bpe.ignore_merges_) {
      std::string bytes;
      for (const auto& [spelling, id] : bpe.vocab_)
        // Spellings outside the byte-level alphabet ("<｜begin▁of▁sentence｜>") are no pre-token's bytes.
        if (byte_level::to_bytes(spelling, bytes)) bpe.id_of_bytes_.emplace(bytes, id);
    }

    const json& merges = model.at("merges");
    bpe.merges_.reserve(merges.size());
    for (size_t rank = 0; rank < merges.size(); ++rank) {
      auto [left, right] = merge_parts(merges[rank], rank, where);
      auto id_of = [&](const std::string& token) {
        auto it = bpe.vocab_.find(token);
        if (it == bpe.vocab_.end()) fail(where, ": merge ", rank, " uses ", json(token).dump(), ", not in vocab");
        return it->second;
      };
      const Merge merge{static_cast<int32_t>(rank), id_of(left + right)};
      // As in Hugging Face (a HashMap collected in order), a repeated pair keeps its last rank.
      bpe.merges_.insert_or_assign(pair_key(id_of(left), id_of(right)), merge);
    }
  } catch (const json::exception& e) {
    fail(where, ": ", e.what());
  }
  return bpe;
}

void Bpe::encode(std::string_view piece, std::vector<int32_t>& ids) const {
  if (ignore_merges_) {
    if (auto it = id_of_bytes_.find(std::string(piece)); it != id_of_bytes_.end()) {
      ids.push_back(it->second);
      return;
    }
  }
  if (piece.size() == 1) {
    ids.push_back(byte_id_[static_cast<unsigned char>(piece[0])]);
    return;
  }

  // A doubly linked list of symbols and a min-heap of candidate merges ordered by (rank, position),
  // as tokenizers/src/models/bpe/word.rs merge_all: O(n log n) even for very long pieces. Entries go
  // stale when a neighbour merges first; they are recognised when popped and skipped.
  struct Symbol {
    int32_t id, prev, next;
    bool gone;
  };
  struct Candidate {
    int32_t rank, pos, id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<Candidate> heap;
  symbols.clear();
  heap.clear();
  const int32_t n = static_cast<int32_t>(piece.size());
  for (int32_t i = 0; i < n; ++i)
    symbols.push_back({byte_id_[static_cast<unsigned char>(piece[i])], i - 1, i + 1 < n ? i + 1 : -1, false});

  auto push_candidate = [&](int32_t pos) {
    const int32_t next = symbols[pos].next;
    if (next < 0) return;
    auto it = merges_.find(pair_key(symbols[pos].id, symbols[next].id));
    if (it == merges_.end()) return;
    heap.push_back({it->second.rank, pos, it->second.id});
    std::push_heap(heap.begin(), heap.end(), std::greater<>());
  };
  for (int32_t i = 0; i + 1 < n; ++i) push_candidate(i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>());
    const Candidate top = heap.back();
    heap.pop_back();
    Symbol& left = symbols[top.pos];
    if (left.gone || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    auto it = merges_.find(pair_key(left.id, right.id));
    if (it == merges_.end() || it->second.id != top.id) continue;  // stale
    left.id = top.id;
    right.gone = true;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.pos;
    if (left.prev >= 0) push_candidate(left.prev);
    push_candidate(top.pos);
  }
  for (int32_t i = 0; i >= 0; i = symbols[i].next) ids.push_back(symbols[i].id);
}

}  // namespace mla
