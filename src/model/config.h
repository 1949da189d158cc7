// Model configuration from a Hugging Face `config.json`, with the published key names kept as they
// are so code reads side by side with the configs and papers.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mla {

enum class ScoringFunc { Softmax, Sigmoid };
enum class TopkMethod { Greedy, GroupLimitedGreedy, NoauxTc };

// `rope_scaling` "type"/"rope_type": "yarn" (DeepSeek, Peng et al. 2023) or "llama3" (Llama 3.1+,
// Hugging Face `_compute_llama3_parameters`). Each architecture accepts only its own.
enum class RopeType { Yarn, Llama3 };

struct RopeScaling {
  RopeType type = RopeType::Yarn;
  double factor = 1.0;
  int64_t original_max_position_embeddings = 4096;
  // yarn
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  double mscale = 1.0;
  double mscale_all_dim = 0.0;  // 0: absent
  // llama3: wavelengths shorter than original / high_freq_factor keep their frequency, longer than
  // original / low_freq_factor are divided by factor, with a smooth blend between.
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
};

struct ModelConfig {
  std::string architecture;  // "DeepseekV2ForCausalLM" | "DeepseekV3ForCausalLM" | "LlamaForCausalLM"
  std::string model_type;    // "deepseek_v2" | "deepseek_v3" | "llama"

  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;       // dense MLP
  int64_t moe_intermediate_size = 0;   // per expert
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;     // Llama: K/V heads (MHA = heads, GQA fewer, MQA 1); informational for MLA
  int64_t head_dim = 0;                // Llama: width of each q/k/v head (default hidden / heads)
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  std::optional<RopeScaling> rope_scaling;  // YaRN (DeepSeek) or llama3 (Llama) when present
  // Llama from GGUF: llama3 scaling as llama.cpp stores it, one divisor per RoPE frequency
  // (tensor rope_freqs.weight, [head_dim / 2]); empty otherwise.
  std::vector<float> rope_freq_factors;
  bool tie_word_embeddings = false;

  // MLA (DeepSeek-V2 paper, section 2.1)
  std::optional<int64_t> q_lora_rank;  // null: plain q_proj
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t v_head_dim = 0;

  // DeepSeekMoE
  std::optional<int64_t> n_routed_experts;  // null: all layers dense
  int64_t n_shared_experts = 0;
  int64_t num_experts_per_tok = 0;
  int64_t first_k_dense_replace = 0;
  int64_t moe_layer_freq = 1;
  ScoringFunc scoring_func = ScoringFunc::Softmax;
  TopkMethod topk_method = TopkMethod::Greedy;
  int64_t n_group = 1;
  int64_t topk_group = 1;
  bool norm_topk_prob = false;
  double routed_scaling_factor = 1.0;

  std::optional<int64_t> bos_token_id, eos_token_id;  // eos_token_id: the first of eos_token_ids
  std::vector<int64_t> eos_token_ids;  // every id that ends generation (Llama-3-Instruct lists several)

  bool is_v3() const { return architecture == "DeepseekV3ForCausalLM"; }
  bool is_llama() const { return architecture == "LlamaForCausalLM"; }
  int64_t qk_head_dim() const { return qk_nope_head_dim + qk_rope_head_dim; }
  bool is_moe_layer(int64_t layer) const {
    return n_routed_experts && layer >= first_k_dense_replace && layer % moe_layer_freq == 0;
  }
};

// Parses and validates (positive sizes, heads divide evenly, known scoring_func / topk_method,
// n_routed_experts divisible by n_group; for Llama no biases and a known rope_scaling, ...). Errors
// name the file and the key: "<path>: key 'kv_lora_rank': expected a positive integer".
// Unsupported architectures: "<path>: unsupported architecture 'X' (supported: ...)".
ModelConfig parse_config(const nlohmann::json& j, const std::string& path);
ModelConfig load_config(const std::string& path);  // reads the file; malformed JSON -> mla::Error

}  // namespace mla
