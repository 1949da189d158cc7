// config.json for DeepSeek-V2 / V3 (Hugging Face `DeepseekV2Config` / `DeepseekV3Config`) and Llama
// (`LlamaConfig`); the defaults below are theirs where a key may be absent. Size keys have no default: a config without them
// is not one we can run, and guessing a size would only fail later, further from the cause.
#include "model/config.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "formats/json_strict.h"

namespace mla {

namespace {

using json = nlohmann::json;

// Reads keys of one config object, every error naming the file and the key.
class Reader {
 public:
  Reader(const json& j, const std::string& path) : j_(j), path_(path) {}

  [[noreturn]] void bad(const char* key, const char* expected, const json* got) const {
    if (got) fail(path_, ": key '", key, "': expected ", expected, ", got ", json_brief(*got));
    fail(path_, ": key '", key, "': missing (expected ", expected, ")");
  }

  const json* find(const char* key) const {
    auto it = j_.find(key);
    return it == j_.end() ? nullptr : &*it;
  }
  bool present(const char* key) const {  // present and not null
    const json* v = find(key);
    return v && !v->is_null();
  }

  // Integer with min as the smallest allowed value (0: non-negative, 1: positive).
  int64_t integer(const char* key, int64_t min, std::optional<int64_t> def = std::nullopt) const {
    const char* what = min >= 1 ? "a positive integer" : "a non-negative integer";
    const json* v = find(key);
    if (!v || v->is_null()) {
      if (def) return *def;
      bad(key, what, v && v->is_null() ? v : nullptr);
    }
    int64_t x;
    if (v->is_number_unsigned()) {
      uint64_t u = v->get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) bad(key, what, v);
      x = static_cast<int64_t>(u);
    } else if (v->is_number_integer()) {
      x = v->get<int64_t>();
    } else {
      bad(key, what, v);  // strings, floats (even 2.0), booleans
    }
    if (x < min) bad(key, what, v);
    return x;
  }
  std::optional<int64_t> optional_integer(const char* key, int64_t min) const {
    if (!present(key)) return std::nullopt;
    return integer(key, min);
  }

  // Finite number (integers allowed); positive when `positive`, else non-negative.
  double number(const char* key, bool positive, std::optional<double> def) const {
    const char* what = positive ? "a positive number" : "a non-negative number";
    const json* v = find(key);
    if (!v || v->is_null()) {
      if (def) return *def;
      bad(key, what, v);
    }
    if (!v->is_number()) bad(key, what, v);
    double x = v->get<double>();
    if (!std::isfinite(x) || x < 0 || (positive && x == 0)) bad(key, what, v);
    return x;
  }

  bool boolean(const char* key, bool def) const {
    const json* v = find(key);
    if (!v || v->is_null()) return def;
    if (!v->is_boolean()) bad(key, "true or false", v);
    return v->get<bool>();
  }

  std::string string(const char* key, const std::string& def) const {
    const json* v = find(key);
    if (!v || v->is_null()) return def;
    if (!v->is_string()) bad(key, "a string", v);
    return v->get<std::string>();
  }

 private:
  const json& j_;
  const std::string& path_;
};

// LlamaForCausalLM (HF `LlamaConfig`): the keys after those every architecture shares.
void parse_llama(const Reader& r, const std::string& path, ModelConfig& c) {
  c.intermediate_size = r.integer("intermediate_size", 1);
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    fail(path, ": key 'num_key_value_heads': ", c.num_key_value_heads, " does not divide num_attention_heads ",
         c.num_attention_heads);
  if (r.present("head_dim")) {
    c.head_dim = r.integer("head_dim", 1);
  } else {
    if (c.hidden_size % c.num_attention_heads != 0)
      fail(path, ": key 'head_dim': missing, and hidden_size ", c.hidden_size, " is not divisible by num_attention_heads ",
           c.num_attention_heads);
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  if (c.head_dim % 2 != 0) fail(path, ": key 'head_dim': expected an even number (RoPE rotates pairs), got ", c.head_dim);
  // Biases would need weights this engine does not bind; refusing is better than ignoring them.
  for (const char* key : {"attention_bias", "mlp_bias"})
    if (r.boolean(key, false)) fail(path, ": key '", key, "': true is not supported (only bias-free Llama models)");
  const std::string act = r.string("hidden_act", "silu");
  if (act != "silu") fail(path, ": key 'hidden_act': expected \"silu\", got \"", act, "\"");

  if (!r.present("rope_scaling")) return;
  const json& rs = *r.find("rope_scaling");
  if (!rs.is_object()) r.bad("rope_scaling", "null or an object", &rs);
  const std::string where = path + ": rope_scaling";
  Reader s(rs, where);
  std::string type = s.string("rope_type", "");
  if (type.empty()) type = s.string("type", "");
  if (type == "default") return;  // HF's name for no scaling
  if (type.empty()) fail(where, ": missing 'rope_type' (only \"llama3\" is supported)");
  if (type != "llama3") fail(where, ": unsupported rope_type '", type, "' (only \"llama3\" is supported)");
  // HF `_validate_llama3_parameters` requires all four keys.
  RopeScaling l;
  l.type = RopeType::Llama3;
  l.factor = s.number("factor", true, std::nullopt);
  if (l.factor < 1) fail(where, ": key 'factor': expected a number >= 1, got ", l.factor);
  l.low_freq_factor = s.number("low_freq_factor", true, std::nullopt);
  l.high_freq_factor = s.number("high_freq_factor", true, std::nullopt);
  if (l.high_freq_factor <= l.low_freq_factor)
    fail(where, ": key 'high_freq_factor': ", l.high_freq_factor, " must exceed low_freq_factor ", l.low_freq_factor);
  l.original_max_position_embeddings = s.integer("original_max_position_embeddings", 1);
  c.rope_scaling = l;
}

}  // namespace

ModelConfig parse_config(const json& j, const std::string& path) {
  if (!j.is_object()) fail(path, ": expected a JSON object, got ", json_brief(j));
  Reader r(j, path);
  ModelConfig c;

  // --- architecture
  const json* arch = r.find("architectures");
  if (!arch)
    fail(path, ": key 'architectures': missing (expected [\"DeepseekV2ForCausalLM\"], [\"DeepseekV3ForCausalLM\"] or "
               "[\"LlamaForCausalLM\"])");
  if (!arch->is_array() || arch->empty() || !(*arch)[0].is_string())
    r.bad("architectures", "a non-empty array of strings", arch);
  c.architecture = (*arch)[0].get<std::string>();
  if (c.architecture != "DeepseekV2ForCausalLM" && c.architecture != "DeepseekV3ForCausalLM" && !c.is_llama())
    fail(path, ": unsupported architecture '", c.architecture,
         "' (supported: DeepseekV2ForCausalLM, DeepseekV3ForCausalLM, LlamaForCausalLM)");
  const bool v3 = c.is_v3();
  c.model_type = r.string("model_type", c.is_llama() ? "llama" : v3 ? "deepseek_v3" : "deepseek_v2");

  // --- sizes
  c.vocab_size = r.integer("vocab_size", 1);
  c.hidden_size = r.integer("hidden_size", 1);
  c.num_hidden_layers = r.integer("num_hidden_layers", 1);
  c.num_attention_heads = r.integer("num_attention_heads", 1);
  c.num_key_value_heads = r.integer("num_key_value_heads", 1, c.num_attention_heads);
  c.max_position_embeddings = r.integer("max_position_embeddings", 1, 2048);
  c.rms_norm_eps = r.number("rms_norm_eps", true, 1e-6);
  c.rope_theta = r.number("rope_theta", true, 10000.0);
  c.tie_word_embeddings = r.boolean("tie_word_embeddings", false);
  c.bos_token_id = r.optional_integer("bos_token_id", 0);
  // eos_token_id may also be a list (generation stops at any); the first is the model's own.
  if (const json* eos = r.find("eos_token_id"); eos && eos->is_array()) {
    if (eos->empty()) r.bad("eos_token_id", "a non-negative integer or a non-empty list of them", eos);
    for (const json& id : *eos) {
      json one = {{"eos_token_id", id}};
      c.eos_token_ids.push_back(Reader(one, path).integer("eos_token_id", 0));
    }
    c.eos_token_id = c.eos_token_ids.front();
  } else {
    c.eos_token_id = r.optional_integer("eos_token_id", 0);
    if (c.eos_token_id) c.eos_token_ids.push_back(*c.eos_token_id);
  }
  if (c.is_llama()) {
    parse_llama(r, path, c);
    return c;
  }

  // --- MLA: DeepSeek-V2 paper, section 2.1.
  if (!r.find("q_lora_rank"))
    fail(path, ": key 'q_lora_rank': missing (expected a positive integer, or null for a plain q_proj)");
  c.q_lora_rank = r.optional_integer("q_lora_rank", 1);
  c.kv_lora_rank = r.integer("kv_lora_rank", 1);
  c.qk_nope_head_dim = r.integer("qk_nope_head_dim", 1);
  c.qk_rope_head_dim = r.integer("qk_rope_head_dim", 1);
  c.v_head_dim = r.integer("v_head_dim", 1);
  if (c.qk_rope_head_dim % 2 != 0)
    fail(path, ": key 'qk_rope_head_dim': expected an even number (RoPE rotates pairs), got ", c.qk_rope_head_dim);
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    fail(path, ": key 'num_key_value_heads': ", c.num_key_value_heads, " does not divide num_attention_heads ",
         c.num_attention_heads);

  // --- YaRN (Peng et al. 2023); HF DeepseekV2YarnRotaryEmbedding defaults.
  if (r.present("rope_scaling")) {
    const json& rs = *r.find("rope_scaling");
    if (!rs.is_object()) r.bad("rope_scaling", "null or an object", &rs);
    const std::string where = path + ": rope_scaling";
    Reader s(rs, where);
    std::string type = s.string("type", "");
    if (type.empty()) type = s.string("rope_type", "");
    if (type.empty()) fail(where, ": missing 'type' (only \"yarn\" is supported)");
    if (type != "yarn") fail(where, ": unsupported type '", type, "' (only \"yarn\" is supported)");
    RopeScaling y;
    y.factor = s.number("factor", true, std::nullopt);
    if (y.factor < 1) fail(where, ": key 'factor': expected a number >= 1, got ", y.factor);
    y.original_max_position_embeddings = s.integer("original_max_position_embeddings", 1, 4096);
    y.beta_fast = s.number("beta_fast", true, 32.0);
    y.beta_slow = s.number("beta_slow", true, 1.0);
    y.mscale = s.number("mscale", false, 1.0);
    y.mscale_all_dim = s.number("mscale_all_dim", false, 0.0);
    c.rope_scaling = y;
  }

  // --- DeepSeekMoE
  c.n_routed_experts = r.optional_integer("n_routed_experts", 1);
  c.n_shared_experts = r.integer("n_shared_experts", 0, 0);
  c.first_k_dense_replace = r.integer("first_k_dense_replace", 0, 0);
  c.moe_layer_freq = r.integer("moe_layer_freq", 1, 1);
  c.n_group = r.integer("n_group", 1, 1);
  c.topk_group = r.integer("topk_group", 1, 1);
  c.norm_topk_prob = r.boolean("norm_topk_prob", false);
  c.routed_scaling_factor = r.number("routed_scaling_factor", true, 1.0);

  const std::string scoring = r.string("scoring_func", "softmax");
  if (scoring == "softmax") c.scoring_func = ScoringFunc::Softmax;
  else if (scoring == "sigmoid") c.scoring_func = ScoringFunc::Sigmoid;
  else fail(path, ": key 'scoring_func': expected \"softmax\" or \"sigmoid\", got \"", scoring, "\"");

  const std::string topk = r.string("topk_method", v3 ? "noaux_tc" : "greedy");
  if (topk == "greedy") c.topk_method = TopkMethod::Greedy;
  else if (topk == "group_limited_greedy") c.topk_method = TopkMethod::GroupLimitedGreedy;
  else if (topk == "noaux_tc") c.topk_method = TopkMethod::NoauxTc;
  else
    fail(path, ": key 'topk_method': expected \"greedy\", \"group_limited_greedy\" or \"noaux_tc\", got \"", topk,
         "\"");

  // The dense MLP size is needed by every dense layer (all of them when n_routed_experts is null).
  c.intermediate_size = r.integer("intermediate_size", 1);
  if (c.n_routed_experts) {
    const int64_t n = *c.n_routed_experts;
    c.moe_intermediate_size = r.integer("moe_intermediate_size", 1);
    c.num_experts_per_tok = r.integer("num_experts_per_tok", 1);
    if (c.num_experts_per_tok > n)
      fail(path, ": key 'num_experts_per_tok': ", c.num_experts_per_tok, " exceeds n_routed_experts ", n);
    if (n % c.n_group != 0)
      fail(path, ": key 'n_group': n_routed_experts ", n, " is not divisible by n_group ", c.n_group);
    if (c.topk_group > c.n_group)
      fail(path, ": key 'topk_group': ", c.topk_group, " exceeds n_group ", c.n_group);
    if (c.topk_method != TopkMethod::Greedy) {
      // Group-limited routing picks topk_group groups, then the top experts inside them only.
      const int64_t reachable = c.topk_group * (n / c.n_group);
      if (c.num_experts_per_tok > reachable)
        fail(path, ": key 'num_experts_per_tok': ", c.num_experts_per_tok, " exceeds topk_group x experts per group = ",
             c.topk_group, " x ", n / c.n_group, " = ", reachable, " (topk_method ", topk, ")");
    }
  } else {
    c.moe_intermediate_size = r.integer("moe_intermediate_size", 0, 0);
    c.num_experts_per_tok = r.integer("num_experts_per_tok", 0, 0);
  }
  return c;
}

ModelConfig load_config(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail(path, ": does not exist");
  if (!std::filesystem::is_regular_file(path, ec)) fail(path, ": not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail(path, ": read error");
  return parse_config(parse_json_strict<json>(ss.str(), path), path);
}

}  // namespace mla
