#include "model/gguf_weights.h"

#include <cstring>

#include "core/error.h"
#include "kernels/matmul.h"
#include "model/gguf_names.h"

namespace mla {

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  TensorView t;
  t.shape = s;
  return t.shape_str();
}

void expect_shape(const TensorView& t, const std::vector<int64_t>& shape) {
  if (t.shape != shape)
    fail(*t.file, ": tensor ", t.name, " has shape ", t.shape_str(), " (Hugging Face order), expected ", shape_str(shape));
}

// Rows of a [rows x cols] tensor of any dtype as f32.
std::vector<float> decode_all(const TensorView& t, int64_t rows, int64_t cols) {
  const Matrix m{t.dtype, rows, cols, t.data, nullptr};
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) decode_row(m, r, out.data() + r * cols);
  return out;
}

}  // namespace

GgufWeights::GgufWeights(std::unique_ptr<GgufFile> file, const ModelConfig& cfg) : file_(std::move(file)) {
  std::map<long, const TensorView*> k_b, v_b;
  for (const TensorView& t : file_->tensors()) {
    const auto block = gguf_block(t.name);
    if (block && block->first >= cfg.num_hidden_layers) continue;  // MTP (nextn) layers are never bound
    if (t.name == "rope_freqs.weight" && cfg.is_llama()) continue;  // read into cfg.rope_freq_factors
    const std::string rest = block ? block->second : "";
    const std::string layer = block ? "model.layers." + std::to_string(block->first) + "." : "";
    if (cfg.is_llama() && (rest == "attn_q.weight" || rest == "attn_k.weight")) {
      add_unpermuted(layer + (rest == "attn_q.weight" ? "self_attn.q_proj.weight" : "self_attn.k_proj.weight"), t,
                     rest == "attn_q.weight" ? cfg.num_attention_heads : cfg.num_key_value_heads);
    } else if (auto hf = hf_name_of(t.name)) {
      add(*hf, t, t.data, t.shape);
    } else if (rest == "ffn_gate_exps.weight" || rest == "ffn_up_exps.weight" || rest == "ffn_down_exps.weight") {
      add_experts(block->first, rest.substr(4, rest.find('_', 4) - 4), t);
    } else if (rest == "attn_k_b.weight") {
      k_b[block->first] = &t;
    } else if (rest == "attn_v_b.weight") {
      v_b[block->first] = &t;
    } else {
      fail(*t.file, ": tensor ", t.name, " is not one the engine knows for architecture ", cfg.architecture,
           " (it would be ignored, so the model would compute something else)");
    }
  }
  for (const auto& [layer, k] : k_b) {
    auto v = v_b.find(layer);
    if (v == v_b.end()) fail(*k->file, ": tensor ", k->name, " has no attn_v_b beside it");
    add_kv_b(layer, *k, *v->second, cfg);
  }
  for (const auto& [layer, v] : v_b)
    if (!k_b.count(layer)) fail(*v->file, ": tensor ", v->name, " has no attn_k_b beside it");
}

void GgufWeights::add(const std::string& hf_name, const TensorView& t, const uint8_t* data, std::vector<int64_t> shape) {
  TensorView v = t;
  v.name = hf_name;
  v.data = data;
  v.shape = std::move(shape);
  v.nbytes = dtype_row_bytes(t.dtype, v.shape.back()) * static_cast<size_t>(v.numel() / v.shape.back());
  if (!views_.emplace(hf_name, std::move(v)).second)
    fail(*t.file, ": tensor ", t.name, " gives ", hf_name, " a second time (old and new MLA layouts mixed?)");
}

// ffn_<proj>_exps [E, rows, cols] -> model.layers.N.mlp.experts.e.<proj>_proj.weight [rows, cols],
// each a contiguous slice of the stacked tensor.
void GgufWeights::add_experts(long layer, const std::string& proj, const TensorView& t) {
  if (t.shape.size() != 3) fail(*t.file, ": tensor ", t.name, " has shape ", t.shape_str(), ", expected [experts, rows, cols]");
  const int64_t E = t.shape[0], rows = t.shape[1], cols = t.shape[2];
  const size_t bytes = dtype_row_bytes(t.dtype, cols) * static_cast<size_t>(rows);
  for (int64_t e = 0; e < E; ++e)
    add("model.layers." + std::to_string(layer) + ".mlp.experts." + std::to_string(e) + "." + proj + "_proj.weight", t,
        t.data + bytes * e, {rows, cols});
}

// kv_b_proj [H * (nope + dv), R]: per head, nope rows of W_UK then dv rows of W_UV (DeepSeek-V2
// modeling: kv.view(.., H, nope + dv).split([nope, dv])). attn_k_b holds W_UK_h^T [H, R, nope],
// attn_v_b W_UV_h [H, dv, R]. Same element type on both: moved element by element, bitwise;
// otherwise (quantized) decoded to F32.
void GgufWeights::add_kv_b(long layer, const TensorView& k_b, const TensorView& v_b, const ModelConfig& cfg) {
  const int64_t H = cfg.num_attention_heads, R = cfg.kv_lora_rank, nope = cfg.qk_nope_head_dim, dv = cfg.v_head_dim;
  expect_shape(k_b, {H, R, nope});
  expect_shape(v_b, {H, dv, R});
  const bool same = k_b.dtype == v_b.dtype && !dtype_is_quantized(k_b.dtype);
  const DType dt = same ? k_b.dtype : DType::F32;
  const size_t es = dtype_size(dt);
  const int64_t rows = H * (nope + dv);
  owned_.emplace_back(new uint8_t[static_cast<size_t>(rows * R) * es]);
  uint8_t* out = owned_.back().get();
  if (same) {
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t j = 0; j < nope; ++j)
        for (int64_t r = 0; r < R; ++r)
          std::memcpy(out + ((h * (nope + dv) + j) * R + r) * es, k_b.data + ((h * R + r) * nope + j) * es, es);
      std::memcpy(out + (h * (nope + dv) + nope) * R * es, v_b.data + h * dv * R * es, dv * R * es);
    }
  } else {
    const std::vector<float> k = decode_all(k_b, H * R, nope), v = decode_all(v_b, H * dv, R);
    float* o = reinterpret_cast<float*>(out);
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t j = 0; j < nope; ++j)
        for (int64_t r = 0; r < R; ++r) o[(h * (nope + dv) + j) * R + r] = k[(h * R + r) * nope + j];
      std::memcpy(o + (h * (nope + dv) + nope) * R, v.data() + h * dv * R, dv * R * sizeof(float));
    }
  }
  TensorView t = k_b;
  t.dtype = dt;
  add("model.layers." + std::to_string(layer) + ".self_attn.kv_b_proj.weight", t, out, {rows, R});
}

// convert_hf_to_gguf.py LlamaModel.permute: w.reshape(n_head, 2, hd / 2, cols).swapaxes(1, 2), so GGUF
// row h * hd + 2 i + s holds Hugging Face row h * hd + s * hd / 2 + i. Whole rows move: any dtype.
void GgufWeights::add_unpermuted(const std::string& hf_name, const TensorView& t, int64_t n_head) {
  if (t.shape.size() != 2 || t.shape[0] % (2 * n_head) != 0)
    fail(*t.file, ": tensor ", t.name, " has shape ", t.shape_str(), ", expected [", n_head, " heads x head_dim, hidden]");
  const int64_t hd = t.shape[0] / n_head, half = hd / 2;
  const size_t rb = dtype_row_bytes(t.dtype, t.shape[1]);
  owned_.emplace_back(new uint8_t[t.nbytes]);
  uint8_t* out = owned_.back().get();
  for (int64_t h = 0; h < n_head; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t s = 0; s < 2; ++s)
        std::memcpy(out + (h * hd + s * half + i) * rb, t.data + (h * hd + 2 * i + s) * rb, rb);
  add(hf_name, t, out, t.shape);
}

const TensorView& GgufWeights::get(const std::string& name, const std::vector<int64_t>& shape) const {
  auto it = views_.find(name);
  if (it == views_.end()) {
    const auto g = gguf_name_of(name);
    fail(file_->path(), ": missing tensor ", g ? *g : name, " (Hugging Face ", name, ")");
  }
  const TensorView& t = it->second;
  if (t.shape != shape)
    fail(*t.file, ": tensor ", name, " has shape ", t.shape_str(), ", expected ", shape_str(shape));
  return t;
}

std::vector<std::string> GgufWeights::names() const {
  std::vector<std::string> out;
  for (const auto& [name, t] : views_) out.push_back(name);
  return out;
}

}  // namespace mla
