#include "server/cache_stats.h"

namespace mla::server {

CacheFacts cache_facts(const std::optional<kv::KvShape>& shape, kv::CacheDtype kv_type) {
  CacheFacts f;
  f.shape = shape;
  f.kv_type = kv_type;
  if (shape) {
    f.kv_bytes_per_token = kv::kv_bytes(*shape, kv_type).per_token;
    f.mha_bytes_per_token = kv::mha_bytes(*shape, kv_type).per_token;
  }
  return f;
}

namespace {

using ojson = nlohmann::ordered_json;

// One value per second over [end - n + 1, end] from the seconds with steps (oldest first).
template <class Max, class Last>
ojson per_second(const std::vector<EngineSecond>& h, int64_t end, int64_t n, Max max, Last last) {
  ojson out = ojson::array();
  size_t i = 0;  // first entry not before the second being laid out
  const EngineSecond* before = nullptr;  // the latest entry before it
  for (int64_t s = end - n + 1; s <= end; ++s) {
    while (i < h.size() && h[i].unix_seconds < s) before = &h[i++];
    if (i < h.size() && h[i].unix_seconds == s) out.push_back(max(h[i]));
    else if (before) out.push_back(last(*before));
    else out.push_back(nullptr);
  }
  return out;
}

}  // namespace

ojson cache_json(const std::string& model, const CacheFacts& facts, const EngineMetrics& m,
                 const std::vector<EngineSecond>& history, int64_t now_unix_seconds) {
  ojson j;
  j["model"] = model;
  j["kv_type"] = kv::cache_dtype_name(m.kv_type);
  if (facts.shape) {
    const kv::KvShape& s = *facts.shape;
    uint64_t cached = 0, mha = 0;
    for (uint64_t w : s.cached_rows()) cached += w;
    for (uint64_t w : s.mha_rows()) mha += w;
    j["attention"] = kv::attention_kind_name(s.kind);
    j["layers"] = s.n_layer;
    j["kv_values_per_token_per_layer"] = cached;
    j["mha_values_per_token_per_layer"] = mha;
    j["kv_bytes_per_token"] = facts.kv_bytes_per_token;
    j["mha_kv_bytes_per_token"] = facts.mha_bytes_per_token;
    j["reduction"] = static_cast<double>(facts.mha_bytes_per_token) / static_cast<double>(facts.kv_bytes_per_token);
  } else {
    j["attention"] = nullptr;
    j["layers"] = nullptr;
    j["kv_values_per_token_per_layer"] = nullptr;
    j["mha_values_per_token_per_layer"] = nullptr;
    j["kv_bytes_per_token"] = m.kv_bytes_per_token;
    j["mha_kv_bytes_per_token"] = nullptr;
    j["reduction"] = nullptr;
  }
  j["stored_bytes_per_token"] = m.kv_bytes_per_token;  // as the engine's blocks hold it
  j["block_tokens"] = m.kv_block_tokens;
  j["blocks"] = {{"total", m.kv_blocks_total},
                 {"used", m.kv_blocks_used},
                 {"free", m.kv_blocks_free},
                 {"cached", m.kv_blocks_cached},
                 {"shared", m.kv_blocks_shared}};
  j["bytes"] = {{"total", m.kv_bytes_total}, {"used", m.kv_bytes_used}};
  // Tokens the budget holds: in this model's blocks, and had it the MHA cache of the same shape.
  j["tokens"] = {{"capacity", m.kv_blocks_total * m.kv_block_tokens},
                 {"mha_capacity", facts.mha_bytes_per_token
                                      ? ojson(kv::tokens_in_budget(facts.mha_bytes_per_token, m.kv_bytes_total))
                                      : ojson(nullptr)}};
  j["sequences"] = {{"running", m.running}, {"queued", m.queue_depth}};
  j["counters"] = {{"requests_finished", m.requests_finished},
                   {"requests_cancelled", m.requests_cancelled},
                   {"prompt_tokens", m.prompt_tokens},
                   {"generation_tokens", m.generated_tokens},
                   {"prefix_cache_hit_tokens", m.prefix_cache_hit_tokens},
                   {"preemptions", m.preemptions}};
  const int64_t n = Engine::history_seconds, end = now_unix_seconds;
  ojson h;
  h["seconds"] = n;
  h["end_unix_seconds"] = end;
  h["kv_bytes_used"] = per_second(history, end, n, [](const EngineSecond& s) { return s.kv_bytes_used_max; },
                                  [](const EngineSecond& s) { return s.kv_bytes_used_last; });
  h["kv_blocks_used"] = per_second(history, end, n, [](const EngineSecond& s) { return s.kv_blocks_used_max; },
                                   [](const EngineSecond& s) { return s.kv_blocks_used_last; });
  h["kv_blocks_shared"] = per_second(history, end, n, [](const EngineSecond& s) { return s.kv_blocks_shared_max; },
                                     [](const EngineSecond& s) { return s.kv_blocks_shared_last; });
  h["running"] = per_second(history, end, n, [](const EngineSecond& s) { return s.running_max; },
                            [](const EngineSecond& s) { return s.running_last; });
  h["queued"] = per_second(history, end, n, [](const EngineSecond& s) { return s.queue_depth_max; },
                           [](const EngineSecond& s) { return s.queue_depth_last; });
  j["history"] = h;
  return j;
}

}  // namespace mla::server
