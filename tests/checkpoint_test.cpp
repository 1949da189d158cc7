// Checkpoint directories: a single model.safetensors, or shards listed by an index that must agree
// with them.
#include "model/checkpoint.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "testing/safetensors_writer.h"

namespace mla {
namespace {

using testing::f32_data;
using testing::st_file;
using testing::TempDir;
using testing::write_bytes;

// Expects constructing/calling `fn` to throw an mla::Error containing every one of `parts`.
template <class F>
void expect_error(F fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected '" << parts.at(0) << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

void write_index(const TempDir& dir, const std::string& weight_map_json) {
  write_bytes(dir / "model.safetensors.index.json",
              R"({"metadata": {"total_size": 40}, "weight_map": )" + weight_map_json + "}");
}

// Two shards: a, b in shard 1; c in shard 2.
void write_shards(const TempDir& dir) {
  write_bytes(dir / "model-00001-of-00002.safetensors",
              st_file({{"a", "F32", {2}, f32_data(2)}, {"b", "F32", {2, 2}, f32_data(4, 10)}}));
  write_bytes(dir / "model-00002-of-00002.safetensors", st_file({{"c", "F32", {4}, f32_data(4, 20)}}));
}

TEST(Checkpoint, SingleFile) {
  TempDir dir;
  write_bytes(dir / "model.safetensors", st_file({{"x", "F32", {3}, f32_data(3)}, {"y", "BF16", {2}, "abcd"}}));
  Checkpoint ck(dir.path());
  EXPECT_EQ(ck.dir(), dir.path());
  EXPECT_EQ(ck.num_files(), 1u);
  EXPECT_TRUE(ck.has("x"));
  EXPECT_FALSE(ck.has("z"));
  EXPECT_EQ(ck.get("x", {3}).nbytes, 12u);
  EXPECT_EQ(ck.names(), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(ck.total_bytes(), 16u);
}

TEST(Checkpoint, Sharded) {
  TempDir dir;
  write_shards(dir);
  write_index(dir, R"({"a": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors",
                      "b": "model-00001-of-00002.safetensors"})");
  Checkpoint ck(dir.path());
  EXPECT_EQ(ck.num_files(), 2u);  // each shard mapped once
  EXPECT_EQ(ck.names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(ck.total_bytes(), 40u);
  const TensorView& c = ck.get("c", {4});
  EXPECT_EQ(*c.file, dir / "model-00002-of-00002.safetensors");
  float v;
  std::memcpy(&v, c.data, 4);
  EXPECT_EQ(v, 20.0f);
}

TEST(Checkpoint, NoWeights) {
  TempDir dir;
  expect_error([&] { Checkpoint ck(dir.path()); },
               {dir.path() + ": no model.safetensors or model.safetensors.index.json"});
  expect_error([&] { Checkpoint ck(dir / "absent"); }, {dir / "absent", "does not exist"});
}

TEST(Checkpoint, IndexNamesMissingShard) {
  TempDir dir;
  write_shards(dir);
  write_index(dir, R"({"a": "model-00001-of-00002.safetensors", "d": "model-00003-of-00003.safetensors"})");
  expect_error([&] { Checkpoint ck(dir.path()); },
               {"model.safetensors.index.json: shard model-00003-of-00003.safetensors is listed but",
                "does not exist"});
}

TEST(Checkpoint, TensorMissingFromItsShard) {
  TempDir dir;
  write_shards(dir);
  write_index(dir, R"({"a": "model-00001-of-00002.safetensors", "c": "model-00001-of-00002.safetensors"})");
  expect_error([&] { Checkpoint ck(dir.path()); },
               {"model.safetensors.index.json: tensor c is listed in shard model-00001-of-00002.safetensors",
                "does not contain it"});
}

TEST(Checkpoint, TensorInTwoShards) {
  TempDir dir;
  write_bytes(dir / "s1.safetensors", st_file({{"a", "F32", {1}, f32_data(1)}}));
  write_bytes(dir / "s2.safetensors", st_file({{"a", "F32", {1}, f32_data(1)}, {"b", "F32", {1}, f32_data(1)}}));
  write_index(dir, R"({"a": "s1.safetensors", "b": "s2.safetensors"})");
  expect_error([&] { Checkpoint ck(dir.path()); }, {"s2.safetensors: tensor a is also in", "s1.safetensors"});
}

TEST(Checkpoint, ShardNameEscapingTheDirectory) {
  TempDir dir;
  write_shards(dir);
  for (const char* bad : {"../model-00002-of-00002.safetensors", "sub/x.safetensors", "/etc/passwd", ".."}) {
    write_index(dir, std::string(R"({"a": ")") + bad + "\"}");
    expect_error([&] { Checkpoint ck(dir.path()); },
                 {"weight_map entry for a names shard '" + std::string(bad) + "'", "not a plain file name"});
  }
}

TEST(Checkpoint, BadIndex) {
  TempDir dir;
  write_shards(dir);
  write_bytes(dir / "model.safetensors.index.json", "{\"weight_map\": ");
  expect_error([&] { Checkpoint ck(dir.path()); }, {"model.safetensors.index.json: malformed JSON"});
  write_bytes(dir / "model.safetensors.index.json", "{\"metadata\": {}}");
  expect_error([&] { Checkpoint ck(dir.path()); }, {"missing key 'weight_map'"});
  write_index(dir, R"({"a": 3})");
  expect_error([&] { Checkpoint ck(dir.path()); }, {"weight_map entry for a must be a file name"});
  write_index(dir, R"({"a": "model-00001-of-00002.safetensors", "a": "model-00001-of-00002.safetensors"})");
  expect_error([&] { Checkpoint ck(dir.path()); }, {"duplicate key \"a\""});
}

TEST(Checkpoint, BadShardIsNamed) {
  TempDir dir;
  write_shards(dir);
  write_bytes(dir / "model-00002-of-00002.safetensors", "short");
  write_index(dir, R"({"a": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"})");
  expect_error([&] { Checkpoint ck(dir.path()); }, {"model-00002-of-00002.safetensors: file is 5 bytes"});
}

TEST(Checkpoint, MissingTensorLookup) {
  TempDir dir;
  write_bytes(dir / "model.safetensors", st_file({{"x", "F32", {3}, f32_data(3)}}));
  Checkpoint ck(dir.path());
  expect_error([&] { ck.get("model.norm.weight"); }, {dir.path() + ": missing tensor model.norm.weight"});
  expect_error([&] { ck.get("model.norm.weight", {3}); }, {"missing tensor model.norm.weight"});
}

TEST(Checkpoint, ShapeMismatch) {
  TempDir dir;
  write_bytes(dir / "model.safetensors", st_file({{"x", "F32", {2, 3}, f32_data(6)}}));
  Checkpoint ck(dir.path());
  EXPECT_EQ(ck.get("x", {2, 3}).numel(), 6);
  expect_error([&] { ck.get("x", {3, 2}); },
               {dir / "model.safetensors" + ": tensor x has shape [2, 3], expected [3, 2]"});
  expect_error([&] { ck.get("x", {6}); }, {"tensor x has shape [2, 3], expected [6]"});
}

}  // namespace
}  // namespace mla
