#include "server/metrics.h"

#include <sstream>

namespace mla::server {
namespace {

template <class T>
void metric(std::ostringstream& out, const char* name, const char* type, const char* help, T value) {
  out << "# HELP mla_" << name << ' ' << help << "\n# TYPE mla_" << name << ' ' << type << "\nmla_" << name << ' '
      << value << '\n';
}

}  // namespace

std::string prometheus_text(const EngineMetrics& m, const HttpCounters& http, const CacheFacts* facts) {
  std::ostringstream out;
  metric(out, "http_requests_total", "counter", "HTTP requests answered.", http.requests.load());
  metric(out, "http_client_errors_total", "counter", "HTTP requests answered with a 4xx status.",
         http.client_errors.load());
  metric(out, "http_server_errors_total", "counter", "HTTP requests answered with a 5xx status.",
         http.server_errors.load());
  metric(out, "http_disconnects_total", "counter", "Clients that disconnected before their reply ended.",
         http.disconnects.load());
  metric(out, "requests_submitted_total", "counter", "Generation requests accepted by the engine.",
         m.requests_submitted);
  metric(out, "requests_finished_total", "counter", "Generation requests ended (any reason).", m.requests_finished);
  metric(out, "requests_cancelled_total", "counter", "Generation requests cancelled.", m.requests_cancelled);
  metric(out, "requests_rejected_total", "counter", "Generation requests refused because the queue was full.",
         m.requests_rejected);
  metric(out, "prompt_tokens_total", "counter", "Prompt tokens submitted.", m.prompt_tokens);
  metric(out, "generation_tokens_total", "counter", "Tokens generated.", m.generated_tokens);
  metric(out, "prefix_cache_hit_tokens_total", "counter", "Prompt tokens served from the prefix cache.",
         m.prefix_cache_hit_tokens);
  metric(out, "preemptions_total", "counter", "Sequences preempted to free cache.", m.preemptions);
  metric(out, "generation_tokens_per_second", "gauge", "Generation throughput over the last seconds.",
         m.generate_tokens_per_second);
  metric(out, "queue_depth", "gauge", "Requests waiting to run.", m.queue_depth);
  metric(out, "running_sequences", "gauge", "Sequences being decoded.", m.running);
  metric(out, "kv_blocks_used", "gauge", "KV cache blocks holding tokens.", m.kv_blocks_used);
  metric(out, "kv_blocks_total", "gauge", "KV cache blocks in the budget.", m.kv_blocks_total);
  metric(out, "kv_bytes_used", "gauge", "KV cache bytes holding tokens.", m.kv_bytes_used);
  metric(out, "kv_bytes_total", "gauge", "KV cache bytes in the budget.", m.kv_bytes_total);
  metric(out, "kv_blocks_free", "gauge", "KV cache blocks free (including the cached ones).", m.kv_blocks_free);
  metric(out, "kv_blocks_cached", "gauge", "Free KV cache blocks still holding a prefix a later request can reuse.",
         m.kv_blocks_cached);
  metric(out, "kv_blocks_shared", "gauge", "KV cache blocks held by more than one running sequence (shared prefix).",
         m.kv_blocks_shared);
  metric(out, "kv_block_tokens", "gauge", "Tokens per KV cache block.", m.kv_block_tokens);
  metric(out, "kv_bytes_per_token", "gauge", "KV cache bytes one token takes, all layers, as stored.",
         m.kv_bytes_per_token);
  if (facts && facts->shape)
    metric(out, "kv_mha_bytes_per_token", "gauge",
           "KV cache bytes one token would take in the MHA equivalent of this model, same format.",
           facts->mha_bytes_per_token);
  out << "# HELP mla_kv_cache_info The KV cache's element format and the model's attention.\n"
         "# TYPE mla_kv_cache_info gauge\nmla_kv_cache_info{kv_type=\""
      << kv::cache_dtype_name(m.kv_type) << "\",attention=\""
      << (facts && facts->shape ? kv::attention_kind_name(facts->shape->kind) : "unknown") << "\"} 1\n";
  return out.str();
}

}  // namespace mla::server
