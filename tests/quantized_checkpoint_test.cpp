// The pieces behind quantized checkpoints: the safetensors writer (read back by the strict
// reader), U8 tensors mapped to block views by their metadata (and rejected when unexplained),
// ConvertedWeights' choice of tensors, and the logit error metrics.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "bench/logit_error.h"
#include "core/error.h"
#include "formats/safetensors_writer.h"
#include "model/checkpoint.h"
#include "model/converted_weights.h"
#include "model/quantized_tensors.h"
#include "model/random_weights.h"
#include "tensor/quantize.h"
#include "testing/safetensors_writer.h"

namespace mla {
namespace {

using testing::TempDir;

template <class F>
std::string error_of(F fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A [rows x 64] Q8_0 matrix from random values, written with a bf16 vector before it (so offsets
// exercise alignment), plus the metadata `mla quantize` writes.
struct QuantFile {
  static constexpr int64_t rows = 3, cols = 64;
  std::vector<uint8_t> blocks = std::vector<uint8_t>(rows * dtype_row_bytes(DType::Q8_0, cols));
  std::map<std::string, std::string> metadata;

  explicit QuantFile(const std::string& path, bool explain = true) {
    std::mt19937 rng(5);
    std::normal_distribution<float> dist;
    std::vector<float> x(rows * cols);
    for (float& v : x) v = dist(rng);
    for (int64_t r = 0; r < rows; ++r) quantize_row(DType::Q8_0, x.data() + r * cols, blocks.data() + r * 68, cols);
    if (explain) add_quant_metadata(metadata, "w.weight", DType::Q8_0, rows, cols);
    const std::vector<TensorToWrite> t = {{"norm.weight", DType::BF16, {3}},
                                          {"w.weight", DType::U8, {rows, static_cast<int64_t>(blocks.size() / rows)}}};
    write_safetensors(path, t, metadata, [&](size_t i, std::vector<uint8_t>& out) {
      if (i == 0)
        for (size_t k = 0; k < out.size(); ++k) out[k] = static_cast<uint8_t>(k);
      else
        std::memcpy(out.data(), blocks.data(), blocks.size());
    });
  }
};

TEST(QuantizedCheckpoint, WrittenFileReadsBackAsBlockViews) {
  TempDir dir;
  QuantFile q(dir / "model.safetensors");
  const SafetensorsFile f(dir / "model.safetensors");  // the strict reader accepts the writer's output
  EXPECT_EQ(f.metadata().at("mla.quant_format"), "1");
  EXPECT_EQ(f.find("w.weight")->dtype, DType::U8);
  const Checkpoint ck(dir.path());
  const TensorView& w = ck.get("w.weight", {3, 64});
  EXPECT_EQ(w.dtype, DType::Q8_0);
  EXPECT_EQ(w.nbytes, q.blocks.size());
  EXPECT_EQ(std::memcmp(w.data, q.blocks.data(), q.blocks.size()), 0);
  EXPECT_EQ(ck.get("norm.weight", {3}).dtype, DType::BF16);
}

TEST(QuantizedCheckpoint, UnexplainedOrMisdescribedU8IsAnError) {
  TempDir dir;
  QuantFile q(dir / "model.safetensors", false);
  const Checkpoint ck(dir.path());
  EXPECT_NE(error_of([&] { ck.get("w.weight", {3, 68}); }).find("raw U8 bytes that no mla.qtype metadata explains"),
            std::string::npos);

  using testing::st_file;
  const std::string bytes(3 * 68, '\0');
  auto with = [&](const nlohmann::ordered_json& md) {
    TempDir d;
    testing::write_bytes(d / "model.safetensors", st_file({{"w.weight", "U8", {3, 68}, bytes}}, md));
    return error_of([&] { Checkpoint c(d.path()); });
  };
  EXPECT_NE(with({{"mla.qtype.w.weight", "Q8_0"}, {"mla.qshape.w.weight", "[3, 64]"}}).find("without 'mla.quant_format'"),
            std::string::npos);
  EXPECT_NE(with({{"mla.quant_format", "1"}, {"mla.qtype.w.weight", "Q8_0"}}).find("no matching 'mla.qshape.w.weight'"),
            std::string::npos);
  EXPECT_NE(with({{"mla.quant_format", "1"}, {"mla.qtype.w.weight", "Q4_0"}, {"mla.qshape.w.weight", "[3, 64]"}})
                .find("does not match tensor w.weight"),
            std::string::npos);
  EXPECT_NE(with({{"mla.quant_format", "1"}, {"mla.qtype.w.weight", "Q9_K"}, {"mla.qshape.w.weight", "[3, 64]"}})
                .find("is not a block type this build reads"),
            std::string::npos);
  // Any block type is read (here a Q5_K type whose row of 64 values is not a whole 256-value block).
  EXPECT_NE(with({{"mla.quant_format", "1"}, {"mla.qtype.w.weight", "Q5_K"}, {"mla.qshape.w.weight", "[3, 64]"}})
                .find("176 bytes per 256 values"),
            std::string::npos);
  EXPECT_NE(with({{"mla.quant_format", "1"}, {"mla.qtype.v", "Q8_0"}, {"mla.qshape.v", "[3, 64]"}}).find("no tensor v"),
            std::string::npos);
  EXPECT_NE(with({{"mla.quant_format", "1"}, {"mla.qtype.w.weight", "Q8_0"}, {"mla.qshape.w.weight", "3x64"}})
                .find("mla.qshape.w.weight"),
            std::string::npos);
  EXPECT_EQ(with({{"mla.quant_format", "1"}, {"mla.qtype.w.weight", "Q8_0"}, {"mla.qshape.w.weight", "[3, 64]"}}), "");
}

TEST(QuantizedCheckpoint, ConvertedWeightsQuantizeLinearWeightsOnly) {
  ThreadPool pool(2);
  ConvertedWeights w(std::make_unique<RandomWeights>(DType::BF16, 1, pool), DType::Q4_0, pool);
  EXPECT_EQ(w.get("model.layers.0.self_attn.o_proj.weight", {64, 96}).dtype, DType::Q4_0);
  EXPECT_EQ(w.get("model.embed_tokens.weight", {10, 32}).dtype, DType::Q4_0);
  EXPECT_EQ(w.get("model.layers.1.mlp.gate.weight", {8, 64}).dtype, DType::BF16);  // the MoE router
  EXPECT_EQ(w.get("model.layers.0.self_attn.q_proj.weight", {8, 40}).dtype, DType::BF16);  // 40: no whole blocks
  EXPECT_EQ(w.get("model.norm.weight", {64}).dtype, DType::F32);
  // Converting is decoding then the quantizer: the same bytes as quantize_row on the bf16 values.
  RandomWeights src(DType::BF16, 1, pool);
  const TensorView& b = src.get("model.layers.0.self_attn.o_proj.weight", {64, 96});
  const TensorView& q = w.get("model.layers.0.self_attn.o_proj.weight", {64, 96});
  std::vector<float> row(96);
  std::vector<uint8_t> expect(dtype_row_bytes(DType::Q4_0, 96));
  for (int64_t r = 0; r < 64; ++r) {
    for (int64_t c = 0; c < 96; ++c) {
      uint16_t h;
      std::memcpy(&h, b.data + 2 * (r * 96 + c), 2);
      row[c] = bf16_to_f32(h);
    }
    quantize_row(DType::Q4_0, row.data(), expect.data(), 96);
    ASSERT_EQ(std::memcmp(q.data + r * expect.size(), expect.data(), expect.size()), 0) << r;
  }
}

TEST(QuantizedCheckpoint, NonFiniteWeightsAreAnErrorNotUndefinedBehaviour) {
  ThreadPool pool(2);
  std::vector<float> w(3 * 32, 0.5f);
  w[2 * 32 + 7] = NAN;
  const std::string file = "w.safetensors";
  const TensorView t{"x.weight", DType::F32, {3, 32}, reinterpret_cast<const uint8_t*>(w.data()), w.size() * 4, &file};
  std::vector<uint8_t> out(3 * sizeof(BlockQ8_0));
  EXPECT_NE(error_of([&] { convert_matrix(t, nullptr, DType::Q8_0, out.data(), pool); }).find("x.weight row 2 holds inf or NaN"),
            std::string::npos);
  std::vector<uint8_t> f16(3 * 32 * 2);
  EXPECT_EQ(error_of([&] { convert_matrix(t, nullptr, DType::F16, f16.data(), pool); }), "");  // NaN stays NaN
}

TEST(LogitError, KnownValues) {
  // Two positions, vocab 2: identical rows give zeros; a shifted row (softmax-invariant) gives KL 0
  // but a logit error; a swapped row flips the argmax.
  const float ref[] = {1, 0, 0, 2};
  const float same_shift[] = {3, 2, 0, 2};
  bench::LogitError e = bench::compare_logits(ref, ref, 2, 2);
  EXPECT_EQ(e.max_abs, 0);
  EXPECT_EQ(e.top1_agree, 1);
  EXPECT_EQ(e.mean_kl, 0);
  e = bench::compare_logits(ref, same_shift, 2, 2);
  EXPECT_EQ(e.max_abs, 2);
  EXPECT_NEAR(e.rel_rms, std::sqrt(8.0 / 5.0), 1e-12);
  EXPECT_NEAR(e.mean_kl, 0, 1e-12);
  const float swapped[] = {0, 1, 0, 2};
  e = bench::compare_logits(ref, swapped, 2, 2);
  EXPECT_EQ(e.top1_agree, 0.5);
  // KL(p || q) for p = softmax(1, 0), q = softmax(0, 1), halved over two positions.
  const double p = 1 / (1 + std::exp(-1.0)), kl = p * std::log(p / (1 - p)) + (1 - p) * std::log((1 - p) / p);
  EXPECT_NEAR(e.mean_kl, kl / 2, 1e-12);
}

}  // namespace
}  // namespace mla
