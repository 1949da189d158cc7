// GET /cache: the numbers behind the chat page's cache panel, as one JSON object. What one token
// costs in the running cache format next to its MHA equivalent (the `mla kv` arithmetic,
// kv/kv_accounting.h), the blocks used / free / cached / shared by prefix, the sequences running and
// queued, and the cache's use second by second over the last five minutes (Engine::history()).
// /metrics exports the same numbers (server/metrics.h) from the same EngineMetrics snapshot type.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "kv/kv_accounting.h"

namespace mla::server {

// What the cache costs per token for this model, fixed while serving.
struct CacheFacts {
  std::optional<kv::KvShape> shape;  // unset: a model the accounting has no shape for
  kv::CacheDtype kv_type = kv::CacheDtype::BF16;
  uint64_t kv_bytes_per_token = 0;   // kv::kv_bytes(shape, kv_type).per_token
  uint64_t mha_bytes_per_token = 0;  // kv::mha_bytes(shape, kv_type).per_token
};
CacheFacts cache_facts(const std::optional<kv::KvShape>& shape, kv::CacheDtype kv_type);

// The GET /cache body. `model`: the served model's name; `history`: Engine::history(), laid out as
// one value per second for the Engine::history_seconds seconds ending at `now_unix_seconds` (the
// second's largest value; an idle second holds the value of the step before it; null before the
// engine's first step).
nlohmann::ordered_json cache_json(const std::string& model, const CacheFacts& facts, const EngineMetrics& m,
                                  const std::vector<EngineSecond>& history, int64_t now_unix_seconds);

}  // namespace mla::server
