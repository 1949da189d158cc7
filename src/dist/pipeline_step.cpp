#include "dist/pipeline_step.h"

#include <algorithm>
#include <cstdint>

#include "core/error.h"

namespace mla::dist {
namespace {

SeqCache describe_cache(const KvCache& c) { return {c.n_tokens(), c.max_tokens(), c.block_table()}; }

ArenaShape shape_of(const KvBlockArena& a) { return {a.n_blocks(), a.block_tokens(), a.dtype()}; }

// Reads the encoded step front to back; every read is bounds-checked.
class Reader {
 public:
  explicit Reader(std::span<const int64_t> msg) : msg_(msg) {}
  int64_t next(const char* what) {
    if (pos_ >= msg_.size()) fail("pipeline step: the message ends before its ", what, " (", msg_.size(), " values)");
    return msg_[pos_++];
  }
  // A count of items still to come, each at least `min_values` long.
  int64_t count(const char* what, size_t min_values) {
    const int64_t n = next(what);
    if (n < 0 || static_cast<uint64_t>(n) * min_values > msg_.size() - pos_)
      fail("pipeline step: ", what, " ", n, " does not fit the message of ", msg_.size(), " values");
    return n;
  }
  int64_t in_range(const char* what, int64_t lo, int64_t hi) {
    const int64_t v = next(what);
    if (v < lo || v > hi) fail("pipeline step: ", what, " ", v, " outside [", lo, ", ", hi, "]");
    return v;
  }
  bool done() const { return pos_ == msg_.size(); }

 private:
  std::span<const int64_t> msg_;
  size_t pos_ = 0;
};

}  // namespace

Step describe_forward(std::span<const int32_t> tokens, const KvCache& cache, AttnMode mode, bool all_logits,
                      bool want_logits) {
  Step s;
  s.op = StepOp::Forward;
  s.mode = mode;
  s.all_logits = all_logits;
  s.want_logits = want_logits;
  s.arena = shape_of(cache.arena());
  s.tokens.assign(tokens.begin(), tokens.end());
  s.seqs.push_back(describe_cache(cache));
  return s;
}

Step describe_decode(std::span<const int32_t> tokens, std::span<KvCache* const> caches, AttnMode mode) {
  if (tokens.size() != caches.size()) fail("decode_batch: ", tokens.size(), " tokens for ", caches.size(), " caches");
  Step s;
  s.op = StepOp::DecodeBatch;
  s.mode = mode;
  s.all_logits = true;
  s.want_logits = true;
  if (!caches.empty()) s.arena = shape_of(caches[0]->arena());
  s.tokens.assign(tokens.begin(), tokens.end());
  for (const KvCache* c : caches) {
    // The other ranks mirror one arena; the serving engine's sequences all live in its one arena.
    if (&c->arena() != &caches[0]->arena())
      fail("decode_batch over a pipeline: the caches must share one block arena");
    s.seqs.push_back(describe_cache(*c));
  }
  return s;
}

Step quit_step() { return {}; }

std::vector<Step> split_decode(const Step& step, int64_t groups) {
  if (step.op != StepOp::DecodeBatch) fail("split_decode: not a decode step");
  if (groups < 1) fail("split_decode: ", groups, " groups");
  const int64_t B = static_cast<int64_t>(step.seqs.size()), G = std::max<int64_t>(1, std::min(groups, B));
  std::vector<Step> out;
  for (int64_t g = 0, b0 = 0; g < G; ++g) {
    const int64_t n = B / G + (g < B % G ? 1 : 0);
    Step& part = out.emplace_back(Step{step.op, step.mode, step.all_logits, step.want_logits, step.arena, {}, {}});
    part.tokens.assign(step.tokens.begin() + b0, step.tokens.begin() + b0 + n);
    part.seqs.assign(step.seqs.begin() + b0, step.seqs.begin() + b0 + n);
    b0 += n;
  }
  return out;
}

std::vector<int64_t> encode_step(const Step& s) {
  std::vector<int64_t> m = {static_cast<int64_t>(s.op),
                            static_cast<int64_t>(s.mode),
                            s.all_logits,
                            s.want_logits,
                            s.arena.n_blocks,
                            s.arena.block_tokens,
                            static_cast<int64_t>(s.arena.dtype),
                            static_cast<int64_t>(s.tokens.size())};
  m.insert(m.end(), s.tokens.begin(), s.tokens.end());
  m.push_back(static_cast<int64_t>(s.seqs.size()));
  for (const SeqCache& c : s.seqs) {
    m.insert(m.end(), {c.n_tokens, c.max_tokens, static_cast<int64_t>(c.block_table.size())});
    m.insert(m.end(), c.block_table.begin(), c.block_table.end());
  }
  return m;
}

Step decode_step(std::span<const int64_t> msg) {
  Reader r(msg);
  Step s;
  s.op = static_cast<StepOp>(r.in_range("operation", 0, 2));
  s.mode = static_cast<AttnMode>(r.in_range("attention mode", 0, static_cast<int64_t>(AttnMode::Auto)));
  s.all_logits = r.in_range("all_logits", 0, 1);
  s.want_logits = r.in_range("want_logits", 0, 1);
  s.arena.n_blocks = r.next("arena blocks");
  s.arena.block_tokens = r.next("block size");
  s.arena.dtype = static_cast<kv::CacheDtype>(
      r.in_range("cache format", 0, static_cast<int64_t>(kv::all_cache_dtypes().size()) - 1));
  const int64_t T = r.count("token count", 1);
  for (int64_t i = 0; i < T; ++i) s.tokens.push_back(static_cast<int32_t>(r.in_range("token id", 0, INT32_MAX)));
  const int64_t B = r.count("sequence count", 3);
  for (int64_t b = 0; b < B; ++b) {
    SeqCache c;
    c.n_tokens = r.next("cache position");
    c.max_tokens = r.next("context");
    const int64_t n = r.count("block table length", 1);
    for (int64_t i = 0; i < n; ++i) c.block_table.push_back(static_cast<int32_t>(r.in_range("block id", 0, INT32_MAX)));
    s.seqs.push_back(std::move(c));
  }
  if (!r.done()) fail("pipeline step: values left over after the last sequence");
  if (s.op == StepOp::Forward && B != 1) fail("pipeline step: a forward step has ", B, " sequences, not 1");
  if (s.op == StepOp::DecodeBatch && B != T) fail("pipeline step: ", T, " decode tokens for ", B, " sequences");
  return s;
}

int64_t step_logits(const Step& s, int64_t vocab_size) {
  if (!s.want_logits) return 0;
  const int64_t rows = s.op == StepOp::Forward && !s.all_logits ? 1 : static_cast<int64_t>(s.tokens.size());
  return rows * vocab_size;
}

void MirrorCache::run(Model& stage, const Step& step, float* logits) {
  if (!arena_ || step.arena != shape_) {
    arena_.reset();  // the old arena's memory goes before the new one's comes
    arena_ = std::make_shared<KvBlockArena>(stage.stage().n_layers(), stage.cache_row_width(), step.arena.n_blocks,
                                            step.arena.block_tokens, step.arena.dtype);
    shape_ = step.arena;
  }
  views_.clear();
  for (const SeqCache& c : step.seqs) {
    KvCache& v = views_.emplace_back(arena_, c.max_tokens);
    v.block_table() = c.block_table;
    v.set_n_tokens(c.n_tokens);
  }
  switch (step.op) {
    case StepOp::Forward:
      stage.forward(step.tokens, views_[0], step.mode, step.all_logits, logits);
      return;
    case StepOp::DecodeBatch: {
      std::vector<KvCache*> caches;
      for (KvCache& v : views_) caches.push_back(&v);
      stage.decode_batch(step.tokens, caches, step.mode, logits);
      return;
    }
    case StepOp::Quit:
      break;
  }
  fail("pipeline step: nothing to run for a quit step");
}

}  // namespace mla::dist
