#include "model/gguf_export.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "core/error.h"
#include "formats/gguf_writer.h"
#include "formats/json_strict.h"
#include "kernels/matmul.h"
#include "model/checkpoint.h"
#include "model/gguf_config.h"
#include "model/gguf_names.h"
#include "model/llama.h"
#include "tensor/quantize.h"
#include "tokenizer/gguf_vocab.h"

namespace mla {

namespace {

// Row r of the tensor being written, as f32 [cols].
using RowFn = std::function<void(int64_t r, float* out)>;

// A stored matrix readable row by row as f32 (fp8 with its block scales); copied once if the
// file's offset does not suit its dtype (kernels read elements as their type).
class Source {
 public:
  Source(const Checkpoint& ck, const std::string& name) {
    const TensorView& t = ck.get(name);
    const int64_t cols = t.shape.empty() ? 1 : t.shape.back();
    m_ = {t.dtype, t.numel() / std::max<int64_t>(cols, 1), cols, aligned(t), nullptr};
    if (t.dtype == DType::F8_E4M3) {
      const TensorView& s = ck.get(name.substr(0, name.size() - 7) + ".weight_scale_inv");
      scale_.resize(s.nbytes / 4);
      std::memcpy(scale_.data(), s.data, s.nbytes);
      m_.scale_inv = scale_.data();
    }
  }
  const Matrix& matrix() const { return m_; }
  void row(int64_t r, float* out) const { decode_row(m_, r, out); }

 private:
  const uint8_t* aligned(const TensorView& t) {
    if (reinterpret_cast<uintptr_t>(t.data) % dtype_size(t.dtype) == 0) return t.data;
    copy_.assign(t.data, t.data + t.nbytes);
    return copy_.data();
  }
  Matrix m_;
  std::vector<uint8_t> copy_;
  std::vector<float> scale_;
};

DType source_type(DType stored) { return stored == DType::F8_E4M3 ? DType::BF16 : stored; }

// tokenizer_config.json's chat_template (a string, or a list of {name, template} whose "default" is
// taken) as tokenizer.chat_template, as convert_hf_to_gguf.py (gguf.SpecialVocab) writes it.
void add_chat_template(GgufWriter& w, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const auto j = parse_json_strict<nlohmann::json>(text.str(), path);
  const auto it = j.find("chat_template");
  if (it == j.end()) return;
  if (it->is_string()) w.add_string("tokenizer.chat_template", it->get<std::string>());
  if (it->is_array())
    for (const auto& t : *it)
      if (t.is_object() && t.value("name", "") == "default" && t.contains("template") && t["template"].is_string())
        w.add_string("tokenizer.chat_template", t["template"].get<std::string>());
}

class Exporter {
 public:
  Exporter(const std::string& dir, std::optional<DType> type, std::optional<QuantChoice> mix)
      : cfg_(load_config(dir + "/config.json")), ck_(dir), type_(type), mix_(mix), shape_(quant_model_shape(cfg_)) {}

  void run(const std::string& dir, const std::string& out) {
    add_gguf_config(w_, cfg_);
    w_.add_string("general.name", std::filesystem::path(dir).lexically_normal().filename().string());
    const DType main = mix_ ? mix_->single : type_ ? *type_ : source_type(ck_.get("model.embed_tokens.weight").dtype);
    w_.add_u32("general.file_type", mix_ && mix_->preset ? mix_->preset->ftype : gguf_file_type(main));
    if (dtype_is_quantized(main)) w_.add_u32("general.quantization_version", 2);
    const std::string tok = dir + "/tokenizer.json";
    if (std::filesystem::exists(tok)) add_gguf_vocab(w_, tok, cfg_.vocab_size, cfg_.bos_token_id, cfg_.eos_token_id);
    const std::string tok_cfg = dir + "/tokenizer_config.json";
    if (std::filesystem::exists(tok_cfg)) add_chat_template(w_, tok_cfg);

    if (cfg_.is_llama() && cfg_.rope_scaling) rope_freqs();
    plain("model.embed_tokens.weight");
    for (int64_t i = 0; i < cfg_.num_hidden_layers; ++i) layer(i);
    plain("model.norm.weight");
    if (!cfg_.tie_word_embeddings) plain("lm_head.weight");
    w_.write(out);
  }

 private:
  // The GGUF type of tensor `gguf` (HF name `hf`) with this rank and row length, stored as `stored`.
  DType pick(const std::string& gguf, const std::string& hf, size_t rank, int64_t cols, DType stored) const {
    if (rank == 1 || hf.ends_with(".mlp.gate.weight")) return DType::F32;
    if (mix_) {
      if (mix_->preset) return preset_tensor_type(*mix_->preset, shape_, gguf, cols);
      return cols % dtype_block_values(mix_->single) == 0 ? mix_->single : DType::F16;
    }
    return type_ ? *type_ : source_type(stored);
  }

  void tensor(const std::string& gguf, DType dt, std::vector<int64_t> shape, RowFn row) {
    int64_t rows = 1;
    for (size_t d = 0; d + 1 < shape.size(); ++d) rows *= shape[d];
    const int64_t cols = shape.back();
    w_.add_tensor(gguf, dt, shape, [rows, cols, dt, row](const GgufWriter::Emit& emit) {
      std::vector<float> x(cols);
      std::vector<uint8_t> buf(dtype_row_bytes(dt, cols));
      for (int64_t r = 0; r < rows; ++r) {
        row(r, x.data());
        switch (dt) {
          case DType::F32: std::memcpy(buf.data(), x.data(), buf.size()); break;
          case DType::F16:
            for (int64_t j = 0; j < cols; ++j) { const uint16_t h = f32_to_f16(x[j]); std::memcpy(&buf[2 * j], &h, 2); }
            break;
          case DType::BF16:
            for (int64_t j = 0; j < cols; ++j) { const uint16_t h = f32_to_bf16(x[j]); std::memcpy(&buf[2 * j], &h, 2); }
            break;
          case DType::F8_E4M3:
          case DType::U8: fail("GGUF writer: no ", dtype_name(dt), " tensors in GGUF");
          default: quantize_row(dt, x.data(), buf.data(), cols); break;  // block formats
        }
        emit(buf.data(), buf.size());
      }
    });
  }

  // A tensor renamed one to one.
  void plain(const std::string& hf) {
    const auto gguf = gguf_name_of(hf);
    if (!gguf) fail(ck_.dir(), ": tensor ", hf, " has no GGUF name");
    auto src = std::make_shared<Source>(ck_, hf);
    const TensorView& t = ck_.get(hf);
    tensor(*gguf, pick(*gguf, hf, t.shape.size(), t.shape.back(), t.dtype), t.shape,
           [src](int64_t r, float* out) { src->row(r, out); });
  }

  void layer(int64_t i) {
    const std::string p = "model.layers." + std::to_string(i) + ".", b = "blk." + std::to_string(i) + ".";
    for (const char* n : {"input_layernorm.weight", "post_attention_layernorm.weight"}) plain(p + n);
    if (cfg_.is_llama()) {
      permuted(p + "self_attn.q_proj.weight", b + "attn_q.weight", cfg_.num_attention_heads);
      permuted(p + "self_attn.k_proj.weight", b + "attn_k.weight", cfg_.num_key_value_heads);
      plain(p + "self_attn.v_proj.weight");
      plain(p + "self_attn.o_proj.weight");
      mlp(p + "mlp.");
      return;
    }
    if (cfg_.q_lora_rank) {
      for (const char* n : {"self_attn.q_a_proj.weight", "self_attn.q_a_layernorm.weight", "self_attn.q_b_proj.weight"})
        plain(p + n);
    } else {
      plain(p + "self_attn.q_proj.weight");
    }
    for (const char* n : {"self_attn.kv_a_proj_with_mqa.weight", "self_attn.kv_a_layernorm.weight", "self_attn.o_proj.weight"})
      plain(p + n);
    kv_b(p + "self_attn.kv_b_proj.weight", b);
    if (!cfg_.is_moe_layer(i)) {
      mlp(p + "mlp.");
      return;
    }
    plain(p + "mlp.gate.weight");
    if (cfg_.topk_method == TopkMethod::NoauxTc) plain(p + "mlp.gate.e_score_correction_bias");
    for (const char* proj : {"gate", "up", "down"}) experts(p + "mlp.experts.", proj, b);
    if (cfg_.n_shared_experts > 0) mlp(p + "mlp.shared_experts.");
  }

  // llama3 scaling as llama.cpp stores it: rope_freqs.weight [head_dim / 2], base / scaled frequency.
  void rope_freqs() {
    ModelConfig plain_cfg = cfg_;
    plain_cfg.rope_scaling.reset();
    const std::vector<double> base = llama_rope_inv_freq(plain_cfg), scaled = llama_rope_inv_freq(cfg_);
    std::vector<float> factors(base.size());
    for (size_t i = 0; i < base.size(); ++i) factors[i] = static_cast<float>(base[i] / scaled[i]);
    w_.add_tensor("rope_freqs.weight", DType::F32, {static_cast<int64_t>(factors.size())},
                  [factors](const GgufWriter::Emit& emit) {
                    emit(reinterpret_cast<const uint8_t*>(factors.data()), factors.size() * sizeof(float));
                  });
  }

  void mlp(const std::string& prefix) {
    for (const char* n : {"gate_proj.weight", "up_proj.weight", "down_proj.weight"}) plain(prefix + n);
  }

  // Experts' [rows, cols] matrices stacked as ffn_<proj>_exps [E, rows, cols] (torch.stack(dim=0)).
  void experts(const std::string& prefix, const std::string& proj, const std::string& b) {
    const int64_t E = *cfg_.n_routed_experts;
    std::vector<std::shared_ptr<Source>> src;
    for (int64_t e = 0; e < E; ++e)
      src.push_back(std::make_shared<Source>(ck_, prefix + std::to_string(e) + "." + proj + "_proj.weight"));
    const Matrix& m = src[0]->matrix();
    for (const auto& s : src)
      if (s->matrix().rows != m.rows || s->matrix().cols != m.cols || s->matrix().dtype != m.dtype)
        fail(ck_.dir(), ": experts of ", prefix, " differ in shape or dtype for ", proj, "_proj");
    const int64_t rows = m.rows;
    const std::string name = b + "ffn_" + proj + "_exps.weight";
    tensor(name, pick(name, prefix, 3, m.cols, m.dtype), {E, rows, m.cols},
           [src, rows](int64_t r, float* out) { src[r / rows]->row(r % rows, out); });
  }

  // convert_hf_to_gguf.py LlamaModel.permute: GGUF row h * hd + 2 i + s = HF row h * hd + s * hd / 2 + i.
  void permuted(const std::string& hf, const std::string& gguf, int64_t n_head) {
    auto src = std::make_shared<Source>(ck_, hf);
    const TensorView& t = ck_.get(hf);
    const int64_t hd = t.shape[0] / n_head, half = hd / 2;
    tensor(gguf, pick(gguf, hf, 2, t.shape[1], t.dtype), t.shape, [src, hd, half](int64_t r, float* out) {
      const int64_t h = r / hd, i = (r % hd) / 2, s = r % 2;
      src->row(h * hd + s * half + i, out);
    });
  }

  // kv_b_proj [H * (nope + dv), R] -> attn_k_b [H, R, nope] (W_UK_h transposed) and attn_v_b [H, dv, R].
  void kv_b(const std::string& hf, const std::string& b) {
    const int64_t H = cfg_.num_attention_heads, R = cfg_.kv_lora_rank, nope = cfg_.qk_nope_head_dim,
                  dv = cfg_.v_head_dim;
    const TensorView& t = ck_.get(hf, {H * (nope + dv), R});
    // Decoded once per layer, shared by both tensors' producers, released when the writer is.
    auto kv = std::make_shared<std::vector<float>>();
    auto src = std::make_shared<Source>(ck_, hf);
    auto load = [kv, src, H, nope, dv, R] {
      if (!kv->empty()) return;
      kv->resize(static_cast<size_t>(H * (nope + dv) * R));
      for (int64_t r = 0; r < H * (nope + dv); ++r) src->row(r, kv->data() + r * R);
    };
    tensor(b + "attn_k_b.weight", pick(b + "attn_k_b.weight", hf, 3, nope, t.dtype), {H, R, nope}, [=](int64_t r, float* out) {
      load();
      const int64_t h = r / R, c = r % R;
      for (int64_t j = 0; j < nope; ++j) out[j] = (*kv)[(h * (nope + dv) + j) * R + c];
    });
    tensor(b + "attn_v_b.weight", pick(b + "attn_v_b.weight", hf, 3, R, t.dtype), {H, dv, R}, [=](int64_t r, float* out) {
      load();
      const int64_t h = r / dv, j = r % dv;
      std::memcpy(out, kv->data() + (h * (nope + dv) + nope + j) * R, R * sizeof(float));
      if (h == H - 1 && j == dv - 1) std::vector<float>().swap(*kv);  // the last row: free the layer
    });
  }

  ModelConfig cfg_;
  Checkpoint ck_;
  std::optional<DType> type_;
  std::optional<QuantChoice> mix_;
  QuantModelShape shape_;
  GgufWriter w_;
};

}  // namespace

void export_gguf(const std::string& model_dir, const std::string& out_path, std::optional<DType> type,
                 std::optional<QuantChoice> mix) {
  Exporter(model_dir, type, mix).run(model_dir, out_path);
}

}  // namespace mla
