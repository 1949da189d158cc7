// mla inspect: what a model directory holds: architecture, shapes, parameters, dtypes, KV cache.
#include <cstdio>
#include <map>
#include <memory>

#include "commands.h"
#include "common.h"
#include "model/checkpoint.h"

namespace mla::cli {

void register_inspect(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("inspect", "architecture, parameter counts, dtypes and KV cache size of a model");
  cmd->add_option("-m,--model", *dir, "Hugging Face model directory")->required();
  cmd->callback([dir] {
    ThreadPool pool(1);
    auto model = open_model(*dir, pool);
    const ModelConfig& c = model->config();
    std::map<std::string, size_t> bytes_by_dtype;
    const Checkpoint ck(*dir);
    for (const auto& name : ck.names()) bytes_by_dtype[dtype_name(ck.get(name).dtype)] += ck.get(name).nbytes;
    int64_t moe_layers = 0;
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) moe_layers += c.is_moe_layer(i);

    std::printf("architecture:      %s (%s)\n", c.architecture.c_str(), c.model_type.c_str());
    std::printf("layers:            %lld (%lld dense, %lld MoE)\n", (long long)c.num_hidden_layers,
                (long long)(c.num_hidden_layers - moe_layers), (long long)moe_layers);
    std::printf("hidden / vocab:    %lld / %lld\n", (long long)c.hidden_size, (long long)c.vocab_size);
    std::printf("attention:         MLA, %lld heads, q_lora_rank %s, kv_lora_rank %lld, nope %lld, rope %lld, v %lld\n",
                (long long)c.num_attention_heads, c.q_lora_rank ? std::to_string(*c.q_lora_rank).c_str() : "null",
                (long long)c.kv_lora_rank, (long long)c.qk_nope_head_dim, (long long)c.qk_rope_head_dim,
                (long long)c.v_head_dim);
    if (c.rope_scaling)
      std::printf("rope:              theta %g, YaRN factor %g over %lld positions\n", c.rope_theta,
                  c.rope_scaling->factor, (long long)c.rope_scaling->original_max_position_embeddings);
    else
      std::printf("rope:              theta %g\n", c.rope_theta);
    if (c.n_routed_experts)
      std::printf("experts:           %lld routed (%lld per token) + %lld shared\n", (long long)*c.n_routed_experts,
                  (long long)c.num_experts_per_tok, (long long)c.n_shared_experts);
    std::printf("parameters:        %.3fB total, %.3fB active per token\n", model->params().total / 1e9,
                model->params().active / 1e9);
    std::printf("files:             %zu safetensors, %s\n", ck.num_files(), human_bytes(ck.total_bytes()).c_str());
    for (const auto& [dt, b] : bytes_by_dtype) std::printf("  %-8s         %s\n", dt.c_str(), human_bytes(b).c_str());
    const int64_t values = c.num_hidden_layers * (c.kv_lora_rank + c.qk_rope_head_dim);
    std::printf("KV cache / token:  %lld values = %lld B as bf16, %lld B as f32 (this engine's cache)\n",
                (long long)values, (long long)values * 2, (long long)values * 4);
  });
}

}  // namespace mla::cli
