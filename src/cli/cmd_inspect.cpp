// mla inspect: what a model directory holds: architecture, shapes, parameters, dtypes, KV cache.
#include <cstdio>
#include <memory>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "dist/expert_plan.h"
#include "dist/pipeline_plan.h"
#include "kv/kv_accounting.h"

namespace mla::cli {

void register_inspect(CLI::App& app) {
  struct Opts {
    std::string dir, split = "layers", split_layers, kv_type = kDefaultKvType;
    int ranks = 0;
  };
  auto o = std::make_shared<Opts>();
  auto dir = std::shared_ptr<std::string>(o, &o->dir);
  CLI::App* cmd = app.add_subcommand("inspect", "architecture, parameter counts, dtypes and KV cache size of a model");
  cmd->add_option("-m,--model", *dir, "Hugging Face model directory or GGUF file")->required();
  cmd->add_option("--ranks", o->ranks, "print the pipeline plan over N MPI ranks: layers, weight and KV bytes of each")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--split", o->split, "with --ranks: layers (a pipeline) | experts (routed experts over the ranks)")
      ->check(CLI::IsMember({"layers", "experts"}));
  cmd->add_option("--split-layers", o->split_layers, "with --ranks: this split (0-13,14-26) instead of the balanced one");
  add_kv_type_flag(cmd, o->kv_type, "with --ranks: the cache format of the KV column: f32 | bf16 (default) | f16 | fp8 | q8_0");
  cmd->callback([o, dir] {
    if (o->ranks > 0) {
      // Tensor headers only: plans a model too big for this machine without loading it.
      const ModelConfig cfg = load_model_config(*dir);
      const dist::ModelBytes bytes = dist::model_weight_bytes(*dir, cfg);
      if (o->split == "experts") {
        if (!o->split_layers.empty()) fail("inspect: --split-layers goes with --split layers");
        std::printf("expert split over %d ranks (%lld routed experts per MoE layer):\n%s", o->ranks,
                    (long long)cfg.n_routed_experts.value_or(0),
                    dist::format_expert_plan(dist::balance_experts(bytes, cfg, o->ranks), cfg,
                                             parse_kv_type(o->kv_type)).c_str());
        return;
      }
      const auto plan = o->split_layers.empty() ? dist::balance_layers(bytes, o->ranks)
                                                : dist::parse_split_layers(o->split_layers, bytes, o->ranks);
      std::printf("pipeline over %d ranks (%lld layers):\n%s", o->ranks, (long long)cfg.num_hidden_layers,
                  dist::format_plan(plan, cfg, parse_kv_type(o->kv_type)).c_str());
      return;
    }
    if (!o->split_layers.empty() || o->split != "layers") fail("inspect: --split and --split-layers go with --ranks N");
    ThreadPool pool(1);
    auto model = open_model(*dir, pool);
    const ModelConfig& c = model->config();
    const StoredWeights stored = stored_weights(*dir);
    size_t total_bytes = 0;
    for (const auto& [dt, b] : stored.bytes_by_dtype) total_bytes += b;
    int64_t moe_layers = 0;
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) moe_layers += c.is_moe_layer(i);

    std::printf("architecture:      %s (%s)\n", c.architecture.c_str(), c.model_type.c_str());
    if (c.is_llama())
      std::printf("layers:            %lld (SwiGLU MLP, intermediate %lld)\n", (long long)c.num_hidden_layers,
                  (long long)c.intermediate_size);
    else
      std::printf("layers:            %lld (%lld dense, %lld MoE)\n", (long long)c.num_hidden_layers,
                  (long long)(c.num_hidden_layers - moe_layers), (long long)moe_layers);
    std::printf("hidden / vocab:    %lld / %lld\n", (long long)c.hidden_size, (long long)c.vocab_size);
    if (c.is_llama()) {
      // MHA / GQA / MQA: the one attention core with n_head_kv K/V heads.
      const int64_t H = c.num_attention_heads, Hkv = c.num_key_value_heads;
      const char* kind = Hkv == H ? "MHA" : Hkv == 1 ? "MQA" : "GQA";
      std::printf("attention:         %s, %lld heads, %lld kv heads (%lld query heads per kv head), head_dim %lld\n",
                  kind, (long long)H, (long long)Hkv, (long long)(H / Hkv), (long long)c.head_dim);
    } else {
      std::printf("attention:         MLA, %lld heads, q_lora_rank %s, kv_lora_rank %lld, nope %lld, rope %lld, v %lld\n",
                  (long long)c.num_attention_heads, c.q_lora_rank ? std::to_string(*c.q_lora_rank).c_str() : "null",
                  (long long)c.kv_lora_rank, (long long)c.qk_nope_head_dim, (long long)c.qk_rope_head_dim,
                  (long long)c.v_head_dim);
    }
    if (c.rope_scaling && c.rope_scaling->type == RopeType::Llama3)
      std::printf("rope:              theta %g, llama3 factor %g (low %g, high %g) over %lld positions\n", c.rope_theta,
                  c.rope_scaling->factor, c.rope_scaling->low_freq_factor, c.rope_scaling->high_freq_factor,
                  (long long)c.rope_scaling->original_max_position_embeddings);
    else if (c.rope_scaling)
      std::printf("rope:              theta %g, YaRN factor %g over %lld positions\n", c.rope_theta,
                  c.rope_scaling->factor, (long long)c.rope_scaling->original_max_position_embeddings);
    else
      std::printf("rope:              theta %g\n", c.rope_theta);
    if (c.tie_word_embeddings) std::printf("embeddings:        tied (lm_head = embed_tokens)\n");
    if (c.n_routed_experts)
      std::printf("experts:           %lld routed (%lld per token) + %lld shared\n", (long long)*c.n_routed_experts,
                  (long long)c.num_experts_per_tok, (long long)c.n_shared_experts);
    std::printf("parameters:        %.3fB total, %.3fB active per token\n", model->params().total / 1e9,
                model->params().active / 1e9);
    std::printf("files:             %zu %s, %s\n", stored.n_files, stored.format, human_bytes(total_bytes).c_str());
    for (const auto& [dt, b] : stored.bytes_by_dtype) std::printf("  %-8s         %s\n", dt.c_str(), human_bytes(b).c_str());
    // Per token per layer: the MLA latent + rope key, or K and V of every kv head.
    const int64_t row = model->make_cache(1).row_width(), values = c.num_hidden_layers * row;
    std::printf("KV cache / token:  %lld values (%lld layers x %lld%s) = %lld B as bf16, %lld B as f32 (this engine's cache)\n",
                (long long)values, (long long)c.num_hidden_layers, (long long)row,
                c.is_llama() ? " = 2 x kv heads x head_dim" : " = kv_lora_rank + rope", (long long)values * 2,
                (long long)values * 4);
  });
}

}  // namespace mla::cli
