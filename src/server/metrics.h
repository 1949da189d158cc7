// GET /metrics: the engine's and the HTTP layer's counters in the Prometheus text exposition
// format (version 0.0.4), one `# HELP` / `# TYPE` pair per metric, names prefixed "mla_".
#pragma once
#include <atomic>
#include <cstdint>
#include <string>

#include "engine/engine.h"
#include "server/cache_stats.h"

namespace mla::server {

struct HttpCounters {
  std::atomic<uint64_t> requests{0};        // every HTTP request answered
  std::atomic<uint64_t> client_errors{0};   // answered 4xx
  std::atomic<uint64_t> server_errors{0};   // answered 5xx
  std::atomic<uint64_t> disconnects{0};     // clients gone before their reply finished
};

// `facts` (may be null): the per-token bytes of the `mla kv` arithmetic, exported beside the engine's.
std::string prometheus_text(const EngineMetrics& m, const HttpCounters& http, const CacheFacts* facts = nullptr);

}  // namespace mla::server
