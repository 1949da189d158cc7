// The preset chooser (model/quant_presets.h) against llama-quantize's rules (llama-quant.cpp) for
// a few roles per preset, and the fallback for rows that are not whole 256-value blocks.
#include <gtest/gtest.h>

#include "model/quant_presets.h"

namespace mla {
namespace {

const QuantPreset& preset(const char* name) {
  const QuantPreset* p = find_quant_preset(name);
  EXPECT_NE(p, nullptr) << name;
  return *p;
}

// A 32-layer dense Llama with GQA 4 and an untied output (the shape the rules were tuned on).
QuantModelShape llama32() { return {32, 0, 4, false}; }
// DeepSeek-V2-Lite: 27 layers, 64 routed experts, MLA (head_count_kv 1 -> n_gqa = 16 heads).
QuantModelShape v2lite() { return {27, 64, 16, false}; }

TEST(QuantPresets, NamesAndFileTypes) {
  EXPECT_EQ(preset("q4_k_m").ftype, 15u);
  EXPECT_EQ(preset("q5_k_m").ftype, 17u);
  EXPECT_EQ(preset("q6_k").ftype, 18u);
  EXPECT_EQ(preset("q3_k_m").ftype, 12u);
  EXPECT_EQ(preset("q2_k").ftype, 10u);
  EXPECT_EQ(preset("iq4_xs").ftype, 30u);
  EXPECT_EQ(preset("q8_0").ftype, 7u);
  EXPECT_EQ(find_quant_preset("q4_k"), nullptr);  // llama.cpp has Q4_K_S / Q4_K_M, no plain Q4_K
  EXPECT_EQ(parse_quant_choice("q4_k")->single, DType::Q4_K);
  EXPECT_FALSE(parse_quant_choice("q9_z"));
}

TEST(QuantPresets, Q4KM) {
  const QuantPreset& p = preset("q4_k_m");
  const QuantModelShape m = llama32();
  EXPECT_EQ(preset_tensor_type(p, m, "output.weight", 4096), DType::Q6_K);
  EXPECT_EQ(preset_tensor_type(p, m, "token_embd.weight", 4096), DType::Q4_K);
  EXPECT_EQ(preset_tensor_type(p, m, "blk.10.attn_q.weight", 4096), DType::Q4_K);
  // use_more_bits: layers < 4, >= 28, and (i - 4) % 3 == 2.
  EXPECT_EQ(preset_tensor_type(p, m, "blk.0.attn_v.weight", 4096), DType::Q6_K);
  EXPECT_EQ(preset_tensor_type(p, m, "blk.5.attn_v.weight", 4096), DType::Q4_K);
  EXPECT_EQ(preset_tensor_type(p, m, "blk.6.ffn_down.weight", 14336), DType::Q6_K);
  EXPECT_EQ(preset_tensor_type(p, m, "blk.7.ffn_down.weight", 14336), DType::Q4_K);
  EXPECT_EQ(preset_tensor_type(p, m, "blk.31.ffn_down.weight", 14336), DType::Q6_K);
  EXPECT_EQ(preset_tensor_type(p, m, "blk.9.attn_output.weight", 4096), DType::Q4_K);
  // Tied embedding: quantized as the output.
  EXPECT_EQ(preset_tensor_type(p, {32, 0, 4, true}, "token_embd.weight", 4096), DType::Q6_K);
}

TEST(QuantPresets, DeepSeekMoE) {
  const QuantModelShape m = v2lite();
  // attn_k_b / attn_v_b are no attn_v-like role: the base type (attn_k_b rows of 128 values fall back).
  EXPECT_EQ(preset_tensor_type(preset("q4_k_m"), m, "blk.3.attn_v_b.weight", 512), DType::Q4_K);
  EXPECT_EQ(preset_tensor_type(preset("q4_k_m"), m, "blk.3.attn_k_b.weight", 128), DType::Q5_0);
  // attn_kv_b (the unsplit kv_b_proj of `mla quantize`) is attn_v-like.
  EXPECT_EQ(preset_tensor_type(preset("q4_k_m"), m, "blk.0.attn_kv_b.weight", 512), DType::Q6_K);
  EXPECT_EQ(preset_tensor_type(preset("q2_k"), m, "blk.10.attn_kv_b.weight", 512), DType::Q4_K);  // n_gqa >= 4
  // ffn_down of experts by the layer in the name: 27 / 8 = 3 first layers get more bits.
  EXPECT_EQ(preset_tensor_type(preset("q4_k_m"), m, "blk.2.ffn_down_exps.weight", 1408), DType::Q8_0);  // Q6_K, 1408 % 256
  EXPECT_EQ(preset_tensor_type(preset("q4_k_m"), m, "blk.4.ffn_down_exps.weight", 1536), DType::Q4_K);
  EXPECT_EQ(preset_tensor_type(preset("q2_k"), m, "blk.4.ffn_down_shexp.weight", 2816), DType::Q3_K);
  EXPECT_EQ(preset_tensor_type(preset("q2_k"), m, "blk.4.attn_output.weight", 2048), DType::Q3_K);
  EXPECT_EQ(preset_tensor_type(preset("q3_k_m"), m, "blk.4.attn_output.weight", 2048), DType::Q4_K);
  // Q3_K_M: ffn_down of the first 27 / 16 = 1 layers Q5_K, which falls back to Q5_1 (10944 % 256 = 192).
  EXPECT_EQ(preset_tensor_type(preset("q3_k_m"), m, "blk.0.ffn_down.weight", 10944), DType::Q5_1);
  EXPECT_EQ(preset_tensor_type(preset("q3_k_m"), m, "blk.1.ffn_down.weight", 10944), DType::Q5_0);
}

TEST(QuantPresets, EightExperts) {
  const QuantModelShape m{32, 8, 4, false};  // Mixtral-like
  EXPECT_EQ(preset_tensor_type(preset("q4_k_m"), m, "blk.3.attn_v.weight", 4096), DType::Q8_0);
  EXPECT_EQ(preset_tensor_type(preset("q4_k_m"), m, "blk.3.attn_k.weight", 4096), DType::Q8_0);
  EXPECT_EQ(preset_tensor_type(preset("q4_k_m"), m, "blk.3.attn_output.weight", 4096), DType::Q5_K);
}

TEST(QuantPresets, Fallback256) {
  const QuantModelShape m = llama32();
  EXPECT_EQ(preset_tensor_type(preset("q2_k"), m, "blk.9.attn_q.weight", 96), DType::Q4_0);
  EXPECT_EQ(preset_tensor_type(preset("q3_k_m"), m, "blk.9.attn_q.weight", 96), DType::Q4_0);
  EXPECT_EQ(preset_tensor_type(preset("q4_k_m"), m, "blk.9.attn_q.weight", 96), DType::Q5_0);
  EXPECT_EQ(preset_tensor_type(preset("q5_k_m"), m, "blk.9.attn_q.weight", 96), DType::Q5_1);
  EXPECT_EQ(preset_tensor_type(preset("q6_k"), m, "blk.9.attn_q.weight", 96), DType::Q8_0);
  EXPECT_EQ(preset_tensor_type(preset("iq4_xs"), m, "blk.9.attn_q.weight", 96), DType::IQ4_NL);
  EXPECT_EQ(preset_tensor_type(preset("q4_k_m"), m, "blk.9.attn_q.weight", 80), DType::F16);  // no 32-block either
  EXPECT_EQ(preset_tensor_type(preset("q4_k_m"), m, "output.weight", 96), DType::Q8_0);
}

TEST(QuantPresets, HuggingFaceNames) {
  EXPECT_EQ(*preset_role_name("model.layers.3.mlp.experts.17.down_proj.weight"), "blk.3.ffn_down_exps.weight");
  EXPECT_EQ(*preset_role_name("model.layers.3.self_attn.kv_b_proj.weight"), "blk.3.attn_kv_b.weight");
  EXPECT_EQ(*preset_role_name("lm_head.weight"), "output.weight");
  EXPECT_FALSE(preset_role_name("model.layers.3.mlp.experts.17.bias"));
  // Rows a block type cannot tile are kept as stored.
  EXPECT_FALSE(choose_weight_type(*parse_quant_choice("q4_k"), llama32(), "model.layers.0.mlp.up_proj.weight", 96));
  EXPECT_EQ(choose_weight_type(*parse_quant_choice("q4_k_m"), llama32(), "lm_head.weight", 512), DType::Q6_K);
}

}  // namespace
}  // namespace mla
