#include "dist/pipeline_plan.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <sstream>

#include "core/error.h"
#include "core/human_bytes.h"
#include "formats/gguf.h"
#include "model/checkpoint.h"

namespace mla::dist {
namespace {

// "model.layers.12.mlp..." (HF) or "blk.12.ffn..." (GGUF) -> 12; else -1.
int64_t layer_of(const std::string& name) {
  for (const char* prefix : {"model.layers.", "blk."}) {
    const std::string p = prefix;
    if (name.compare(0, p.size(), p) != 0) continue;
    size_t i = p.size();
    int64_t n = 0;
    bool digits = false;
    for (; i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i, digits = true) n = n * 10 + (name[i] - '0');
    if (digits && i < name.size() && name[i] == '.') return n;
  }
  return -1;
}

void add_tensor(ModelBytes& b, const std::string& name, uint64_t bytes, int64_t n_layers) {
  const int64_t l = layer_of(name);
  if (l >= 0) {
    if (l >= n_layers) return;  // the MTP module, never loaded
    b.layer[l] += bytes;
    if (name.find(".mlp.experts.") != std::string::npos || name.find("_exps.") != std::string::npos)
      b.routed_experts += bytes;
  } else if (name.rfind("model.embed_tokens.", 0) == 0 || name.rfind("token_embd.", 0) == 0) {
    b.embed += bytes;
  } else {
    b.head += bytes;
  }
}

}  // namespace

ModelBytes model_weight_bytes(const std::string& path, const ModelConfig& cfg) {
  ModelBytes b;
  b.layer.assign(cfg.num_hidden_layers, 0);
  if (is_gguf_file(path)) {
    const GgufFile f(path);
    for (const TensorView& t : f.tensors()) add_tensor(b, t.name, t.nbytes, cfg.num_hidden_layers);
  } else {
    const Checkpoint ck(path);
    for (const std::string& name : ck.names()) {
      // A stored lm_head is not read when the embeddings are tied.
      if (cfg.tie_word_embeddings && name.rfind("lm_head.", 0) == 0) continue;
      add_tensor(b, name, ck.get(name).nbytes, cfg.num_hidden_layers);
    }
  }
  if (cfg.tie_word_embeddings) b.head += b.embed;  // the last stage maps the embedding as its head
  return b;
}

std::vector<StagePlan> balance_layers(const ModelBytes& bytes, int n_ranks) {
  const int64_t L = static_cast<int64_t>(bytes.layer.size());
  if (n_ranks < 1) fail("pipeline: ", n_ranks, " ranks");
  if (L < n_ranks) fail("pipeline: ", L, " layers cannot be split over ", n_ranks, " ranks (one layer at least each)");
  std::vector<uint64_t> prefix(L + 1, 0);
  for (int64_t i = 0; i < L; ++i) prefix[i + 1] = prefix[i] + bytes.layer[i];
  auto stage_bytes = [&](int r, int64_t b, int64_t e) {
    return prefix[e] - prefix[b] + (r == 0 ? bytes.embed : 0) + (r == n_ranks - 1 ? bytes.head : 0);
  };
  // best[r][e]: the smallest largest-stage bytes when ranks 0..r cover layers [0, e); cut[r][e] its
  // last stage's first layer.
  constexpr uint64_t kInf = std::numeric_limits<uint64_t>::max();
  std::vector<std::vector<uint64_t>> best(n_ranks, std::vector<uint64_t>(L + 1, kInf));
  std::vector<std::vector<int64_t>> cut(n_ranks, std::vector<int64_t>(L + 1, 0));
  for (int64_t e = 1; e <= L; ++e) best[0][e] = stage_bytes(0, 0, e);
  for (int r = 1; r < n_ranks; ++r)
    for (int64_t e = r + 1; e <= L; ++e)
      for (int64_t b = r; b < e; ++b) {
        if (best[r - 1][b] == kInf) continue;
        const uint64_t v = std::max(best[r - 1][b], stage_bytes(r, b, e));
        if (v < best[r][e]) best[r][e] = v, cut[r][e] = b;
      }
  std::vector<StagePlan> plan(n_ranks);
  int64_t e = L;
  for (int r = n_ranks - 1; r >= 0; --r) {
    const int64_t b = r == 0 ? 0 : cut[r][e];
    plan[r] = {b, e, stage_bytes(r, b, e)};
    e = b;
  }
  return plan;
}

std::vector<StagePlan> parse_split_layers(const std::string& spec, const ModelBytes& bytes, int n_ranks) {
  const int64_t L = static_cast<int64_t>(bytes.layer.size());
  std::vector<StagePlan> plan;
  std::stringstream in(spec);
  std::string part;
  auto number = [&](const std::string& s) {
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (s.empty() || used != s.size() || v < 0) fail("--split-layers: '", s, "' is not a layer index (in '", spec, "')");
    return static_cast<int64_t>(v);
  };
  while (std::getline(in, part, ',')) {
    const size_t dash = part.find('-');
    const int64_t b = number(part.substr(0, dash)), last = dash == std::string::npos ? b : number(part.substr(dash + 1));
    const int64_t expect = plan.empty() ? 0 : plan.back().layer_end;
    if (b != expect) fail("--split-layers: range '", part, "' should start at layer ", expect, " (in '", spec, "')");
    if (last < b) fail("--split-layers: range '", part, "' is empty (in '", spec, "')");
    if (last >= L) fail("--split-layers: range '", part, "' goes past the model's last layer ", L - 1);
    plan.push_back({b, last + 1, 0});
  }
  if (plan.empty() || plan.back().layer_end != L)
    fail("--split-layers: '", spec, "' does not cover layers 0-", L - 1);
  if (static_cast<int>(plan.size()) != n_ranks)
    fail("--split-layers: '", spec, "' gives ", plan.size(), " stages for ", n_ranks, " MPI ranks (mpirun -np ",
         plan.size(), ")");
  for (size_t r = 0; r < plan.size(); ++r) {
    for (int64_t l = plan[r].layer_begin; l < plan[r].layer_end; ++l) plan[r].weight_bytes += bytes.layer[l];
    if (r == 0) plan[r].weight_bytes += bytes.embed;
    if (r + 1 == plan.size()) plan[r].weight_bytes += bytes.head;
  }
  return plan;
}

int64_t cache_row_values(const ModelConfig& cfg) {
  return cfg.is_llama() ? 2 * cfg.num_key_value_heads * cfg.head_dim : cfg.kv_lora_rank + cfg.qk_rope_head_dim;
}

uint64_t cache_row_bytes(const ModelConfig& cfg, kv::CacheDtype dtype) {
  return kv::row_bytes(static_cast<uint64_t>(cache_row_values(cfg)), dtype);
}

std::string format_plan(const std::vector<StagePlan>& plan, const ModelConfig& cfg, kv::CacheDtype dtype) {
  std::string out;
  char line[256];
  const uint64_t row = cache_row_bytes(cfg, dtype);
  std::snprintf(line, sizeof line, "%-5s %-9s %14s %18s\n", "rank", "layers", "weights", "KV bytes/token");
  out += line;
  for (size_t r = 0; r < plan.size(); ++r) {
    const StagePlan& s = plan[r];
    const std::string layers = std::to_string(s.layer_begin) + "-" + std::to_string(s.layer_end - 1);
    const std::string kv = std::to_string(row * (s.layer_end - s.layer_begin)) + " (" + kv::cache_dtype_name(dtype) + ")";
    std::snprintf(line, sizeof line, "%-5zu %-9s %14s %18s\n", r, layers.c_str(), human_bytes(s.weight_bytes).c_str(),
                  kv.c_str());
    out += line;
  }
  return out;
}

}  // namespace mla::dist
