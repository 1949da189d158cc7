// mla kv: exact KV cache size of a model (config.json or a built-in preset) per token, per layer and
// for a context, in every cache dtype, next to its MHA equivalent. The arithmetic is in
// src/kv/kv_accounting.h; this file only reads flags and prints.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "kv/kv_accounting.h"

namespace mla::cli {

namespace {

struct KvFlags {
  std::string model, preset, kv_type, context, mem;
  bool json = false;
};

std::string describe_rows(const kv::KvShape& s) {
  if (s.kind == kv::AttentionKind::MLA)
    return str("c_kv ", s.kv_lora_rank, " + k_pe ", s.qk_rope_head_dim, " = ", grouped(s.cached_rows()[0]),
               " values (one latent row)");
  return str("K ", s.n_head_kv, " x ", s.head_dim, " + V ", s.n_head_kv, " x ", s.head_dim, " = ",
             grouped(2 * s.cached_rows()[0]), " values");
}

std::string describe_mha(const kv::KvShape& s) {
  const auto rows = s.mha_rows();
  if (s.kind == kv::AttentionKind::MLA)  // DeepSeek-V2 paper, Table 1: 2 n_h d_h per layer
    return str(s.n_head, " heads x (", s.qk_nope_head_dim, " K + ", s.v_head_dim, " V) = ", grouped(rows[0] + rows[1]),
               " values (as the DeepSeek-V2 paper counts MHA)");
  return str(s.n_head, " heads x (", s.head_dim, " K + ", s.head_dim, " V) = ", grouped(rows[0] + rows[1]),
             " values (n_head_kv = n_head)");
}

// Prints a table: first column left-aligned, the others right-aligned, two spaces between.
void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w;
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size(); ++c) {
      if (w.size() <= c) w.push_back(0);
      w[c] = std::max(w[c], r[c].size());
    }
  for (const auto& r : rows) {
    std::string line;
    for (size_t c = 0; c < r.size(); ++c) {
      const std::string pad(w[c] - r[c].size(), ' ');
      line += c == 0 ? r[c] + pad : "  " + pad + r[c];
    }
    std::printf("%s\n", line.c_str());
  }
}

void run(const KvFlags& f) {
  if (f.model.empty() == f.preset.empty()) fail("kv: give exactly one of --model DIR or --preset NAME");
  kv::KvShape shape;
  std::string source;
  if (!f.preset.empty()) {
    shape = kv::preset(f.preset);
    source = "preset";
  } else {
    std::error_code ec;
    source = std::filesystem::is_directory(f.model, ec) ? (std::filesystem::path(f.model) / "config.json").string() : f.model;
    shape = kv::shape_from_config(load_model_config(source));
  }
  const bool context_given = !f.context.empty();
  const uint64_t context = context_given ? kv::parse_context(f.context) : static_cast<uint64_t>(shape.max_context);
  std::optional<uint64_t> mem;
  if (!f.mem.empty()) mem = kv::parse_mem(f.mem);
  std::vector<kv::CacheDtype> dtypes;
  if (!f.kv_type.empty()) dtypes = {parse_kv_type(f.kv_type)};
  else if (f.json) dtypes = {parse_kv_type(kDefaultKvType)};
  else dtypes = kv::all_cache_dtypes();

  // Compute everything before printing, so an overflow error never leaves half a table behind.
  struct Row {
    kv::CacheDtype d;
    kv::KvBytes kv, mha;
    double reduction;
    uint64_t ctx_bytes;
    std::optional<uint64_t> mem_tokens, mha_mem_tokens;
  };
  std::vector<Row> rows;
  for (kv::CacheDtype d : dtypes) {
    Row r{d, kv::kv_bytes(shape, d), kv::mha_bytes(shape, d), kv::reduction(shape, d), 0, {}, {}};
    r.ctx_bytes = kv::context_bytes(r.kv.per_token, context);
    if (mem) {
      r.mem_tokens = kv::tokens_in_budget(r.kv.per_token, *mem);
      r.mha_mem_tokens = kv::tokens_in_budget(r.mha.per_token, *mem);
    }
    rows.push_back(r);
  }
  const auto cached = shape.cached_rows();
  const auto mha = shape.mha_rows();
  uint64_t cached_values = 0, mha_values = 0;
  for (uint64_t w : cached) cached_values += w;
  for (uint64_t w : mha) mha_values += w;

  if (f.json) {
    const Row& r = rows.front();
    nlohmann::ordered_json j;
    j["model"] = shape.name;
    j["source"] = source;
    j["attention"] = kv::attention_kind_name(shape.kind);
    j["layers"] = shape.n_layer;
    j["heads"] = shape.n_head;
    if (shape.kind == kv::AttentionKind::MLA) {
      j["kv_lora_rank"] = shape.kv_lora_rank;
      j["qk_rope_head_dim"] = shape.qk_rope_head_dim;
      j["qk_nope_head_dim"] = shape.qk_nope_head_dim;
      j["v_head_dim"] = shape.v_head_dim;
    } else {
      j["kv_heads"] = shape.n_head_kv;
      j["head_dim"] = shape.head_dim;
    }
    j["max_context"] = shape.max_context;
    j["dtype"] = kv::cache_dtype_name(r.d);
    j["kv_values_per_token_per_layer"] = cached_values;
    j["kv_bytes_per_token_per_layer"] = r.kv.per_token_per_layer;
    j["kv_bytes_per_token"] = r.kv.per_token;
    j["mha_values_per_token_per_layer"] = mha_values;
    j["mha_kv_bytes_per_token_per_layer"] = r.mha.per_token_per_layer;
    j["mha_kv_bytes_per_token"] = r.mha.per_token;
    j["reduction"] = r.reduction;
    j["context_tokens"] = context;
    j["context_is_max"] = !context_given;
    j["context_bytes"] = r.ctx_bytes;
    if (mem) {
      j["mem_bytes"] = *mem;
      j["mem_tokens"] = *r.mem_tokens;
      j["mha_mem_tokens"] = *r.mha_mem_tokens;
    }
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }

  std::printf("model:           %s (%s): %s, %lld layers, %lld heads, max context %s tokens\n", shape.name.c_str(),
              source.c_str(), kv::attention_kind_name(shape.kind), (long long)shape.n_layer, (long long)shape.n_head,
              grouped(shape.max_context).c_str());
  std::printf("cached:          %s per token per layer\n", describe_rows(shape).c_str());
  std::printf("MHA equivalent:  %s\n", describe_mha(shape).c_str());
  std::printf("context:         %s tokens%s\n", grouped(context).c_str(),
              context_given ? "" : " (the model's max context; --context N to change)");
  if (context > static_cast<uint64_t>(shape.max_context))
    std::printf("note:            %s tokens exceed the model's max context of %s\n", grouped(context).c_str(),
                grouped(shape.max_context).c_str());
  if (mem) std::printf("budget:          %s = %s B\n", f.mem.c_str(), grouped(*mem).c_str());
  std::printf("\n");

  std::vector<std::vector<std::string>> t;
  std::vector<std::string> head = {"dtype", "B/token/layer", "B/token", "MHA B/token", "reduction",
                                   str("KV for ", grouped(context), " tokens")};
  if (mem) {
    head.push_back(str("tokens in ", f.mem));
    head.push_back("MHA tokens");
  }
  t.push_back(head);
  for (const Row& r : rows) {
    char red[32];
    std::snprintf(red, sizeof red, "%.2fx", r.reduction);
    std::vector<std::string> line = {kv::cache_dtype_name(r.d), grouped(r.kv.per_token_per_layer),
                                     grouped(r.kv.per_token),   grouped(r.mha.per_token),
                                     red,                       str(grouped(r.ctx_bytes), " B (", human_bytes(r.ctx_bytes), ")")};
    if (mem) {
      line.push_back(grouped(*r.mem_tokens));
      line.push_back(grouped(*r.mha_mem_tokens));
    }
    t.push_back(line);
  }
  print_table(t);
  for (const Row& r : rows)
    if (r.d == kv::CacheDtype::Q8_0) {
      const uint64_t w = cached[0];
      std::printf("\nq8_0: a row of n values takes ceil(n/32) blocks of 34 B (f16 scale + 32 int8): %s %s-value %s = %s "
                  "blocks = %s B\n",
                  cached.size() == 1 ? "the" : "each", grouped(w).c_str(), cached.size() == 1 ? "latent row" : "K or V row",
                  grouped((w + kv::kQ8_0BlockValues - 1) / kv::kQ8_0BlockValues).c_str(),
                  grouped(kv::row_bytes(w, r.d)).c_str());
    }
}

}  // namespace

void register_kv(CLI::App& app) {
  auto f = std::make_shared<KvFlags>();
  CLI::App* cmd = app.add_subcommand("kv", "exact KV cache bytes per token, per layer and per context, vs MHA");
  cmd->add_option("-m,--model", f->model, "Hugging Face model directory (its config.json is read), config.json or GGUF file");
  cmd->add_option("-p,--preset", f->preset,
                  "built-in model: gpt2, llama-3-8b, llama-3-70b, deepseek-v2-lite, deepseek-v2, deepseek-v3, deepseek-r1");
  add_kv_type_flag(cmd, f->kv_type, "cache element format: f32, bf16, f16, fp8, q8_0 (default: a table of all; bf16 with --json)");
  cmd->add_option("--context", f->context, "tokens to size the cache for (default: the model's max context)");
  cmd->add_option("--mem", f->mem, "memory budget, e.g. 24GiB, 80GB, 4096: prints the tokens it holds");
  cmd->add_flag("--json", f->json, "one JSON object for one format (--kv-type, default bf16)");
  cmd->callback([f] { run(*f); });
}

}  // namespace mla::cli
