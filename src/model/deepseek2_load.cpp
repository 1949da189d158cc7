// Binds a DeepSeek checkpoint's tensors (Hugging Face names) to the model's weight views, checking
// every shape against the config. Weights stay in the memory map in their stored dtype.
#include <cstring>

#include "core/error.h"
#include "model/deepseek2.h"

namespace mla {
namespace {

class Binder {
 public:
  Binder(const WeightSource& ckpt, std::vector<std::unique_ptr<uint8_t[]>>& realigned)
      : ckpt_(ckpt), realigned_(realigned) {}

  // `<prefix>.weight` as a [rows x cols] matrix; fp8 brings its `<prefix>.weight_scale_inv`.
  Matrix matrix(const std::string& prefix, int64_t rows, int64_t cols) {
    const TensorView& t = ckpt_.get(prefix + ".weight", {rows, cols});
    Matrix m{t.dtype, rows, cols, aligned(t), nullptr, 0};
    if (t.dtype == DType::F8_E4M3) {
      const int64_t sr = (rows + kFp8Block - 1) / kFp8Block, sc = (cols + kFp8Block - 1) / kFp8Block;
      const TensorView& s = ckpt_.get(prefix + ".weight_scale_inv", {sr, sc});
      if (s.dtype != DType::F32)
        fail(*s.file, ": tensor ", s.name, " has dtype ", dtype_name(s.dtype), ", expected F32 block scales");
      m.scale_inv = reinterpret_cast<const float*>(aligned(s));
    }
    count(rows * cols);
    return m;
  }

  // A vector of any float dtype, converted to f32 (norm weights, biases: small).
  std::vector<float> vector(const std::string& name, int64_t n) {
    const TensorView& t = ckpt_.get(name, {n});
    if (t.dtype == DType::F8_E4M3) fail(*t.file, ": tensor ", name, " is F8_E4M3; expected a float vector");
    Matrix m{t.dtype, 1, n, aligned(t), nullptr, 0};
    std::vector<float> v(n);
    for (int64_t i = 0; i < n; ++i) {
      switch (t.dtype) {
        case DType::F32: std::memcpy(&v[i], m.data + 4 * i, 4); break;
        case DType::BF16: v[i] = bf16_to_f32(static_cast<uint16_t>(m.data[2 * i] | (m.data[2 * i + 1] << 8))); break;
        case DType::F16: v[i] = f16_to_f32(static_cast<uint16_t>(m.data[2 * i] | (m.data[2 * i + 1] << 8))); break;
        case DType::F8_E4M3: break;
      }
    }
    count(n);
    return v;
  }

  MlpWeights mlp(const std::string& prefix, int64_t hidden, int64_t inter) {
    return {matrix(prefix + ".gate_proj", inter, hidden), matrix(prefix + ".up_proj", inter, hidden),
            matrix(prefix + ".down_proj", hidden, inter)};
  }

  int64_t params = 0;
  std::vector<std::pair<const uint8_t*, size_t>> spans;  // what the forward pass reads

 private:
  void count(int64_t numel) { params += numel; }

  // Kernels read elements as their type; a tensor at an offset the type cannot be read from is
  // copied once (published checkpoints are aligned, so this is for hand-made files).
  const uint8_t* aligned(const TensorView& t) {
    const size_t align = dtype_size(t.dtype);
    if (reinterpret_cast<uintptr_t>(t.data) % align == 0) {
      spans.emplace_back(t.data, t.nbytes);
      return t.data;
    }
    realigned_.emplace_back(new uint8_t[t.nbytes]);
    std::memcpy(realigned_.back().get(), t.data, t.nbytes);
    return realigned_.back().get();
  }

  const WeightSource& ckpt_;
  std::vector<std::unique_ptr<uint8_t[]>>& realigned_;
};

// Touches every page the forward pass will read so that loading cost is paid (and shown) here,
// not inside the first token's timing.
void prefault(const std::vector<std::pair<const uint8_t*, size_t>>& spans, const LoadProgress& progress) {
  size_t total = 0, done = 0;
  for (const auto& s : spans) total += s.second;
  volatile uint8_t sink = 0;
  for (const auto& [p, n] : spans) {
    for (size_t off = 0; off < n; off += 4096) sink = sink + p[off];
    done += n;
    if (progress) progress(done, total);
  }
}

}  // namespace

DeepseekModel::DeepseekModel(ModelConfig cfg, std::unique_ptr<WeightSource> weights, ThreadPool& pool,
                             const LoadProgress& progress)
    : cfg_(std::move(cfg)),
      weights_(std::move(weights)),
      pool_(pool),
      rope_(cfg_),
      router_(cfg_) {
  const int64_t hidden = cfg_.hidden_size, H = cfg_.num_attention_heads, nope = cfg_.qk_nope_head_dim,
                rope = cfg_.qk_rope_head_dim, dv = cfg_.v_head_dim, R = cfg_.kv_lora_rank;
  Binder b(*weights_, realigned_);
  embed_tokens_ = b.matrix("model.embed_tokens", cfg_.vocab_size, hidden);
  // Layers at index >= num_hidden_layers (DeepSeek-V3's multi-token-prediction module) are not
  // part of next-token inference and are never bound.
  for (int64_t i = 0; i < cfg_.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i);
    LayerWeights L;
    L.input_layernorm = b.vector(p + ".input_layernorm.weight", hidden);
    L.post_attention_layernorm = b.vector(p + ".post_attention_layernorm.weight", hidden);
    AttnWeights& a = L.attn;
    if (cfg_.q_lora_rank) {
      a.q_a_proj = b.matrix(p + ".self_attn.q_a_proj", *cfg_.q_lora_rank, hidden);
      a.q_a_layernorm = b.vector(p + ".self_attn.q_a_layernorm.weight", *cfg_.q_lora_rank);
      a.q_b_proj = b.matrix(p + ".self_attn.q_b_proj", H * (nope + rope), *cfg_.q_lora_rank);
    } else {
      a.q_proj = b.matrix(p + ".self_attn.q_proj", H * (nope + rope), hidden);
    }
    a.kv_a_proj_with_mqa = b.matrix(p + ".self_attn.kv_a_proj_with_mqa", R + rope, hidden);
    a.kv_a_layernorm = b.vector(p + ".self_attn.kv_a_layernorm.weight", R);
    a.kv_b_proj = b.matrix(p + ".self_attn.kv_b_proj", H * (nope + dv), R);
    a.o_proj = b.matrix(p + ".self_attn.o_proj", hidden, H * dv);
    if (cfg_.is_moe_layer(i)) {
      MoeWeights m;
      const int64_t E = *cfg_.n_routed_experts, inter = cfg_.moe_intermediate_size;
      m.gate = b.matrix(p + ".mlp.gate", E, hidden);
      if (cfg_.topk_method == TopkMethod::NoauxTc)
        m.score_bias = b.vector(p + ".mlp.gate.e_score_correction_bias", E);
      const int64_t before = b.params;
      for (int64_t e = 0; e < E; ++e) m.experts.push_back(b.mlp(p + ".mlp.experts." + std::to_string(e), hidden, inter));
      const int64_t per_expert = (b.params - before) / E;
      params_.active -= per_expert * (E - cfg_.num_experts_per_tok);
      if (cfg_.n_shared_experts > 0)
        m.shared_experts = b.mlp(p + ".mlp.shared_experts", hidden, inter * cfg_.n_shared_experts);
      L.moe = std::move(m);
    } else {
      L.mlp = b.mlp(p + ".mlp", hidden, cfg_.intermediate_size);
    }
    layers_.push_back(std::move(L));
  }
  norm_ = b.vector("model.norm.weight", hidden);
  lm_head_ = cfg_.tie_word_embeddings ? embed_tokens_ : b.matrix("lm_head", cfg_.vocab_size, hidden);
  params_.total = b.params;
  params_.active += b.params;
  prefault(b.spans, progress);
}

MlaShape DeepseekModel::attn_shape() const {
  return {cfg_.num_attention_heads, cfg_.qk_nope_head_dim, cfg_.qk_rope_head_dim, cfg_.v_head_dim,
          cfg_.kv_lora_rank, static_cast<float>(Rope::softmax_scale(cfg_))};
}

KvCache DeepseekModel::make_cache(int64_t max_tokens) const {
  return KvCache(cfg_.num_hidden_layers, cfg_.kv_lora_rank + cfg_.qk_rope_head_dim, max_tokens);
}

}  // namespace mla
