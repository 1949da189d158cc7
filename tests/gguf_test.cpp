// GGUF: the writer and reader agree on metadata of every value type and on tensors of every type;
// the quantizers stay within ggml's error bounds; names map both ways; what only hand-made bytes
// can reach (nesting depth, element caps) is rejected. The corrupted-file corpus runs through the
// CLI in tests/e2e/gguf_bad_input.sh, the model round trips in tests/e2e/gguf_roundtrip.sh.
#include "formats/gguf.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "core/error.h"
#include "formats/gguf_writer.h"
#include "kernels/reference.h"
#include "model/gguf_names.h"
#include "tensor/quantize.h"
#include "testing/safetensors_writer.h"

namespace mla {
namespace {

using testing::TempDir;

GgufValue scalar(GgufType t, uint64_t u, int64_t i, double f) {
  GgufValue v;
  v.type = t;
  v.u = u;
  v.i = i;
  v.f = f;
  return v;
}

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> x(n);
  for (float& v : x) v = d(rng);
  return x;
}

TEST(Gguf, MetadataOfEveryTypeRoundTrips) {
  TempDir dir;
  GgufWriter w;
  w.add("u8", scalar(GgufType::U8, 200, 0, 0));
  w.add("i8", scalar(GgufType::I8, 0, -100, 0));
  w.add("u16", scalar(GgufType::U16, 60000, 0, 0));
  w.add("i16", scalar(GgufType::I16, 0, -30000, 0));
  w.add_u32("u32", 4000000000u);
  w.add_i32("i32", -2000000000);
  w.add("u64", scalar(GgufType::U64, uint64_t{1} << 60, 0, 0));
  w.add("i64", scalar(GgufType::I64, 0, -(int64_t{1} << 60), 0));
  w.add_f32("f32", 1.5f);
  w.add("f64", scalar(GgufType::F64, 0, 0, 0.1));
  w.add_bool("bool", true);
  w.add_string("str", "h\xc3\xa9llo");
  w.add_strings("strs", {"a", "", "b c"});
  w.add_i32s("i32s", {1, -2, 3});
  GgufValue nested = scalar(GgufType::ARRAY, 0, 0, 0);
  nested.elem = GgufType::ARRAY;
  GgufValue inner = scalar(GgufType::ARRAY, 0, 0, 0);
  inner.elem = GgufType::U16;
  inner.arr = {scalar(GgufType::U16, 7, 0, 0)};
  nested.arr = {inner, inner};
  w.add("nested", nested);
  const std::string path = dir / "m.gguf";
  w.write(path);

  const GgufFile f(path);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.get_uint("u8"), 200u);
  EXPECT_EQ(f.get_uint("u16"), 60000u);
  EXPECT_EQ(f.get_uint("u32"), 4000000000u);
  EXPECT_EQ(f.get_uint("u64"), uint64_t{1} << 60);
  EXPECT_EQ(f.metadata().at("i8").i, -100);
  EXPECT_EQ(f.metadata().at("i16").i, -30000);
  EXPECT_EQ(f.metadata().at("i32").i, -2000000000);
  EXPECT_EQ(f.metadata().at("i64").i, -(int64_t{1} << 60));
  EXPECT_EQ(f.get_float("f32"), 1.5);
  EXPECT_EQ(f.get_float("f64"), 0.1);
  EXPECT_TRUE(f.get_bool("bool", false));
  EXPECT_EQ(f.get_string("str"), "h\xc3\xa9llo");
  const auto& strs = f.get_array("strs", GgufType::STRING);
  ASSERT_EQ(strs.size(), 3u);
  EXPECT_EQ(strs[2].s, "b c");
  EXPECT_EQ(f.get_array("i32s", GgufType::I32)[1].i, -2);
  EXPECT_EQ(f.get_array("nested", GgufType::ARRAY)[1].arr[0].u, 7u);
  // Typed access names the key and what it is.
  EXPECT_THROW(f.get_uint("str"), Error);
  EXPECT_THROW(f.get_uint("i8"), Error);  // negative
  EXPECT_THROW(f.get_array("strs", GgufType::I32), Error);
  try {
    f.get_string("absent");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing metadata key 'absent'"), std::string::npos) << e.what();
  }
  EXPECT_EQ(f.get_uint("absent", 5), 5u);
}

TEST(Gguf, TensorsOfEveryTypeRoundTripWithShapesReversedAndDataAligned) {
  TempDir dir;
  GgufWriter w;
  struct Spec {
    std::string name;
    DType dt;
    std::vector<int64_t> shape;
  };
  const std::vector<Spec> specs = {{"f32", DType::F32, {3, 5}},     {"f16", DType::F16, {7}},
                                   {"bf16", DType::BF16, {2, 2, 3}}, {"q8", DType::Q8_0, {2, 64}},
                                   {"q4", DType::Q4_0, {4, 1, 32}}};
  std::vector<std::vector<uint8_t>> bytes;
  for (const Spec& s : specs) {
    int64_t rows = 1;
    for (size_t d = 0; d + 1 < s.shape.size(); ++d) rows *= s.shape[d];
    std::vector<uint8_t> b(dtype_row_bytes(s.dt, s.shape.back()) * rows);
    for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 31 + bytes.size());
    bytes.push_back(b);
    w.add_tensor(s.name, s.dt, s.shape, [b](const GgufWriter::Emit& emit) { emit(b.data(), b.size()); });
  }
  const std::string path = dir / "t.gguf";
  w.write(path);
  const GgufFile f(path);
  ASSERT_EQ(f.tensors().size(), specs.size());
  for (size_t k = 0; k < specs.size(); ++k) {
    const TensorView* t = f.find(specs[k].name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->dtype, specs[k].dt);
    EXPECT_EQ(t->shape, specs[k].shape);
    EXPECT_EQ(f.file_offset(*t) % 32, 0u);
    ASSERT_EQ(t->nbytes, bytes[k].size());
    EXPECT_EQ(std::memcmp(t->data, bytes[k].data(), t->nbytes), 0);
  }
}

TEST(Gguf, WriterRejectsProducersThatEmitTheWrongSize) {
  TempDir dir;
  GgufWriter w;
  w.add_tensor("t", DType::F32, {4}, [](const GgufWriter::Emit& emit) {
    const uint8_t b[8] = {};
    emit(b, 8);
  });
  EXPECT_THROW(w.write(dir / "x.gguf"), Error);
  EXPECT_THROW(w.add_tensor("q", DType::Q8_0, {2, 33}, nullptr), Error);
  w.add_u32("k", 1);
  EXPECT_THROW(w.add_u32("k", 2), Error);
}

// Header + one key holding `value` (type ARRAY), no tensors.
std::string one_array_file(const std::string& value) {
  std::string b = "GGUF";
  auto u32 = [&](uint32_t v) { b.append(reinterpret_cast<const char*>(&v), 4); };
  auto u64 = [&](uint64_t v) { b.append(reinterpret_cast<const char*>(&v), 8); };
  u32(3);
  u64(0);
  u64(1);
  u64(1);
  b += "k";
  u32(9);
  return b + value;
}

void expect_rejected(const std::string& bytes, const std::string& part) {
  TempDir dir;
  const std::string path = dir / "bad.gguf";
  testing::write_bytes(path, bytes);
  try {
    GgufFile f(path);
    ADD_FAILURE() << "accepted; expected '" << part << "'";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path + ": ", 0), 0u) << e.what();
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(Gguf, RejectsArraysNestedTooDeepOrTooLong) {
  std::string nest;
  for (int d = 0; d < 6; ++d) nest += std::string("\x09\0\0\0", 4) + std::string("\x01\0\0\0\0\0\0\0", 8);
  expect_rejected(one_array_file(nest), "arrays nested deeper than 4");
  // One array over the element cap, with its bytes present.
  std::string big = std::string("\x01\0\0\0", 4);
  const uint64_t n = (uint64_t{1} << 22) + 1;
  big.append(reinterpret_cast<const char*>(&n), 8);
  big += std::string(n, '\0');
  expect_rejected(one_array_file(big), "array count 4194305 exceeds the limit of 4194304");
}

TEST(Gguf, AlignmentMustBeAPowerOfTwo) {
  TempDir dir;
  GgufWriter w;
  w.add_u32("general.alignment", 48);
  const std::string path = dir / "a.gguf";
  w.write(path);
  EXPECT_THROW(GgufFile f(path), Error);
}

// ggml's bounds: Q8_0 |x - x'| <= d / 2 with d = max|x| / 127 (plus the f16 rounding of d), Q4_0
// |x - x'| <= |d| with |d| = max|x| / 8 (half a step, a whole step at the clamped end).
TEST(Quantize, Q8_0AndQ4_0StayWithinTheirBlockBounds) {
  const int64_t cols = 256;
  const std::vector<float> x = random_floats(cols, 7, 3.0f);
  std::vector<BlockQ8_0> q8(cols / kQuantBlock);
  std::vector<BlockQ4_0> q4(cols / kQuantBlock);
  quantize_row_q8_0(x.data(), q8.data(), cols);
  quantize_row_q4_0(x.data(), q4.data(), cols);
  const Matrix m8{DType::Q8_0, 1, cols, reinterpret_cast<const uint8_t*>(q8.data()), nullptr};
  const Matrix m4{DType::Q4_0, 1, cols, reinterpret_cast<const uint8_t*>(q4.data()), nullptr};
  for (int64_t b = 0; b < cols / kQuantBlock; ++b) {
    float amax = 0;
    for (int64_t j = 0; j < kQuantBlock; ++j) amax = std::max(amax, std::fabs(x[b * kQuantBlock + j]));
    for (int64_t j = 0; j < kQuantBlock; ++j) {
      const int64_t c = b * kQuantBlock + j;
      EXPECT_LE(std::fabs(ref::weight_at(m8, 0, c) - x[c]), 0.5f * amax / 127 * 1.13f) << c;
      EXPECT_LE(std::fabs(ref::weight_at(m4, 0, c) - x[c]), amax / 8 * 1.01f) << c;
    }
  }
  // The value of largest magnitude in a Q4_0 block is exact up to the f16 scale: -8 d.
  float big = 0;
  for (int64_t j = 0; j < kQuantBlock; ++j) big = std::fabs(x[j]) > std::fabs(big) ? x[j] : big;
  for (int64_t j = 0; j < kQuantBlock; ++j) {
    if (x[j] != big) continue;
    EXPECT_NEAR(ref::weight_at(m4, 0, j), big, std::fabs(big) * 1e-3);
  }
  // All-zero blocks quantize to zero scales, not NaN.
  const std::vector<float> zeros(kQuantBlock, 0.0f);
  quantize_row_q8_0(zeros.data(), q8.data(), kQuantBlock);
  quantize_row_q4_0(zeros.data(), q4.data(), kQuantBlock);
  EXPECT_EQ(ref::weight_at(m8, 0, 5), 0.0f);
  EXPECT_EQ(ref::weight_at(m4, 0, 5), 0.0f);
}

TEST(GgufNames, MapBothWays) {
  for (const char* hf : {"model.embed_tokens.weight", "lm_head.weight", "model.norm.weight",
                         "model.layers.12.self_attn.kv_a_proj_with_mqa.weight", "model.layers.0.mlp.gate.e_score_correction_bias",
                         "model.layers.3.mlp.shared_experts.down_proj.weight", "model.layers.7.self_attn.q_proj.weight"}) {
    const auto g = gguf_name_of(hf);
    ASSERT_TRUE(g) << hf;
    EXPECT_EQ(hf_name_of(*g), hf);
  }
  EXPECT_EQ(*gguf_name_of("model.layers.12.self_attn.kv_a_proj_with_mqa.weight"), "blk.12.attn_kv_a_mqa.weight");
  EXPECT_EQ(*gguf_name_of("model.layers.0.mlp.gate.e_score_correction_bias"), "blk.0.exp_probs_b.bias");
  EXPECT_FALSE(gguf_name_of("model.layers.0.mlp.experts.3.up_proj.weight"));
  EXPECT_FALSE(hf_name_of("blk.x.attn_norm.weight"));
  EXPECT_FALSE(hf_name_of("blk..attn_norm.weight"));
  EXPECT_FALSE(hf_name_of("blk.1234567890123.attn_norm.weight"));
}

}  // namespace
}  // namespace mla
