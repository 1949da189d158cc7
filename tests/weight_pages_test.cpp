// The read probe over memory it is given (bench/roofline.h) and the spans of a model's weight pages it
// reads in `mla bench --model` (bench/weight_pages.h): every byte, or an even sample under a cap; GGUF
// tensors merged across their alignment padding, safetensors tensors across nothing.
#include <gtest/gtest.h>

#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "bench/roofline.h"
#include "bench/weight_pages.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "testing/safetensors_writer.h"

namespace mla::bench {
namespace {

TEST(ReadProbeOverSpans, ReadsEveryByteOrAnEvenSampleUnderTheCap) {
  ThreadPool pool(2);
  const std::vector<uint8_t> a((5 << 20) + 3, 1), b(7, 2), c((33 << 20) + 1, 3);
  ReadProbe all(pool, {std::span<const uint8_t>(a), std::span<const uint8_t>(b), std::span<const uint8_t>(c)});
  EXPECT_EQ(all.bytes(), a.size() + b.size() + c.size());
  const double gbps = all.pass();
  EXPECT_TRUE(std::isfinite(gbps) && gbps > 0) << gbps;
  // 33 MiB + 1 in 16 MiB pieces (16, 16, 1 byte + 1 MiB) under a 16 MiB cap: every third piece.
  ReadProbe sample(pool, {std::span<const uint8_t>(c)}, size_t{16} << 20);
  EXPECT_EQ(sample.bytes(), size_t{16} << 20);
  // Under a 32 MiB cap: every second piece, the first and the short last one.
  ReadProbe half(pool, {std::span<const uint8_t>(c)}, size_t{32} << 20);
  EXPECT_EQ(half.bytes(), c.size() - (size_t{16} << 20));
}

TEST(WeightPages, GgufTensorsMergeAcrossTheirAlignmentPadding) {
  testing::TempDir dir;
  GgufWriter w;
  for (int64_t n : {5, 7, 16}) {
    const std::vector<float> v(static_cast<size_t>(n), 1.0f);
    w.add_tensor("t" + std::to_string(n), DType::F32, {n},
                 [v](const GgufWriter::Emit& emit) { emit(reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(float)); });
  }
  const std::string path = dir / "w.gguf";
  w.write(path);
  const MappedWeightBytes m = mapped_weight_bytes(path);
  ASSERT_EQ(m.spans.size(), 1u);
  const GgufFile f(path);
  const TensorView &first = *f.find("t5"), &last = *f.find("t16");
  EXPECT_EQ(m.spans[0].size(), f.file_offset(last) + last.nbytes - f.file_offset(first));
  EXPECT_GT(m.spans[0].size(), 28u * sizeof(float));  // the padding is inside
}

TEST(WeightPages, SafetensorsShardsGiveOneSpanEach) {
  testing::TempDir dir;
  const std::string shard1 = testing::st_file({{"a", "F32", {5}, testing::f32_data(5)}, {"b", "F32", {3}, testing::f32_data(3)}});
  const std::string shard2 = testing::st_file({{"c", "F32", {4}, testing::f32_data(4)}});
  testing::write_bytes(dir / "model-00001-of-00002.safetensors", shard1);
  testing::write_bytes(dir / "model-00002-of-00002.safetensors", shard2);
  testing::write_bytes(dir / "model.safetensors.index.json",
                       R"({"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
                           "c": "model-00002-of-00002.safetensors"}})");
  const MappedWeightBytes m = mapped_weight_bytes(dir.path());
  ASSERT_EQ(m.spans.size(), 2u);
  size_t total = 0;
  for (const auto& s : m.spans) total += s.size();
  EXPECT_EQ(total, 12u * sizeof(float));
}

}  // namespace
}  // namespace mla::bench
