// safetensors reader: a valid file gives views into the map; each way a file can be broken is
// rejected with one mla::Error naming the file and the problem.
#include "formats/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>

#include "core/error.h"
#include "testing/safetensors_writer.h"

namespace mla {
namespace {

using testing::st_bytes;
using testing::st_file;
using testing::StTensor;
using testing::TempDir;

// Writes `bytes` to a file, opens it, and expects an mla::Error whose message holds the path and
// every one of `parts`.
void expect_rejected(const std::string& bytes, const std::vector<std::string>& parts) {
  TempDir dir;
  const std::string path = dir / "bad.safetensors";
  testing::write_bytes(path, bytes);
  try {
    SafetensorsFile f(path);
    ADD_FAILURE() << "accepted a bad file; expected an error with '" << parts.at(0) << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

// A two-tensor header with the given offsets and a data buffer of `data_size` bytes.
std::string two_tensors(const std::string& a_off, const std::string& b_off, size_t data_size) {
  std::string h = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":)" + a_off +
                  R"(},"b":{"dtype":"F32","shape":[2],"data_offsets":)" + b_off + "}}";
  return st_bytes(h, std::string(data_size, '\x01'));
}

TEST(Safetensors, ValidFileGivesViews) {
  TempDir dir;
  const std::string path = dir / "ok.safetensors";
  std::string bf16 = {'\x80', '\x3f', '\x00', '\x40', '\x40', '\x40'};  // 1, 2, 3 in bf16
  testing::write_bytes(path, st_file({{"w.weight", "F32", {2, 3}, testing::f32_data(6, 1.0f)},
                                      {"b.bias", "BF16", {3}, bf16},
                                      {"empty", "F16", {0, 4}, ""},
                                      {"scalar", "F8_E4M3", {}, std::string(1, '\x38')}},
                                     {{"format", "pt"}}));
  SafetensorsFile f(path);
  EXPECT_EQ(f.path(), path);
  ASSERT_EQ(f.tensors().size(), 4u);
  EXPECT_EQ(f.tensors()[0].name, "w.weight");  // file order kept
  EXPECT_EQ(f.tensors()[3].name, "scalar");
  EXPECT_EQ(f.metadata().at("format"), "pt");

  const TensorView* w = f.find("w.weight");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->dtype, DType::F32);
  EXPECT_EQ(w->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(w->shape_str(), "[2, 3]");
  EXPECT_EQ(w->numel(), 6);
  EXPECT_EQ(w->nbytes, 24u);
  EXPECT_EQ(*w->file, path);
  float v[6];
  std::memcpy(v, w->data, 24);
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[5], 6.0f);

  const TensorView* b = f.find("b.bias");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, DType::BF16);
  EXPECT_EQ(b->data, w->data + 24);  // a view, right after w
  uint16_t h;
  std::memcpy(&h, b->data + 2, 2);
  EXPECT_EQ(bf16_to_f32(h), 2.0f);

  const TensorView* e = f.find("empty");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->numel(), 0);
  EXPECT_EQ(e->nbytes, 0u);
  const TensorView* s = f.find("scalar");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->shape.size(), 0u);
  EXPECT_EQ(s->numel(), 1);
  EXPECT_EQ(s->dtype, DType::F8_E4M3);
  EXPECT_EQ(f.find("nope"), nullptr);
}

TEST(Safetensors, EmptyHeaderAndPaddedHeaderAreValid) {
  TempDir dir;
  testing::write_bytes(dir / "a", st_bytes("{}", ""));
  EXPECT_EQ(SafetensorsFile(dir / "a").tensors().size(), 0u);
  // The spec allows trailing spaces after the JSON to pad the header (writers align the data to 8).
  testing::write_bytes(dir / "b", st_bytes(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}   )",
                                           std::string(4, '\0')));
  EXPECT_EQ(SafetensorsFile(dir / "b").tensors().size(), 1u);
}

TEST(Safetensors, HeaderOrderNeedNotFollowOffsets) {
  // The reference implementation sorts the entries by offset before checking that they tile the
  // buffer, so a header listing "b" (second in the data) before "a" is a valid file.
  TempDir dir;
  std::string h = R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  testing::write_bytes(dir / "x", st_bytes(h, testing::f32_data(2, 10.0f)));
  SafetensorsFile f(dir / "x");
  ASSERT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.tensors()[0].name, "b");
  float v;
  std::memcpy(&v, f.find("b")->data, 4);
  EXPECT_EQ(v, 11.0f);
}

TEST(Safetensors, MissingFile) {
  TempDir dir;
  try {
    SafetensorsFile f(dir / "absent.safetensors");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("absent.safetensors: cannot open"), std::string::npos) << e.what();
  }
}

TEST(Safetensors, EmptyFile) { expect_rejected("", {"0 bytes, too short"}); }
TEST(Safetensors, ShortFile) { expect_rejected(std::string("\x02\x00\x00", 3), {"3 bytes, too short"}); }

TEST(Safetensors, HeaderLengthPastEnd) {
  expect_rejected(st_bytes("{}", "", 1000), {"header length 1000 runs past the end of the file"});
  expect_rejected(st_bytes("{}", "", ~0ull), {"header length", "exceeds the limit"});
}

TEST(Safetensors, HeaderLengthOverLimit) {
  // Declared past the 100 MB limit; the file itself is small.
  expect_rejected(st_bytes("{}", "", 100'000'001), {"header length 100000001 exceeds the limit of 100000000"});
}

TEST(Safetensors, NotJson) {
  expect_rejected(st_bytes("{not json", ""), {"header: malformed JSON"});
  expect_rejected(st_bytes("hello", ""), {"header is not a JSON object"});
}

TEST(Safetensors, JsonNotAnObject) {
  expect_rejected(st_bytes("[1, 2]", ""), {"header is not a JSON object"});
  expect_rejected(st_bytes("{} []", ""), {"malformed JSON"});
}

TEST(Safetensors, InvalidUtf8InHeader) {
  expect_rejected(st_bytes("{\"w\xff\xfe\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", ""),
                  {"header: not valid UTF-8 (byte 3)"});
  // Overlong encoding of '/'.
  expect_rejected(st_bytes("{\"\xc0\xaf\":1}", ""), {"not valid UTF-8"});
  // UTF-16 surrogate encoded in UTF-8.
  expect_rejected(st_bytes("{\"\xed\xa0\x80\":1}", ""), {"not valid UTF-8"});
}

TEST(Safetensors, UnknownDtype) {
  expect_rejected(st_bytes(R"({"w":{"dtype":"Q4_K","shape":[1],"data_offsets":[0,1]}})", "x"),
                  {"unknown dtype 'Q4_K' for tensor w"});
  expect_rejected(st_bytes(R"({"w":{"dtype":7,"shape":[1],"data_offsets":[0,1]}})", "x"),
                  {"tensor w", "'dtype' must be a string"});
}

TEST(Safetensors, SpecDtypesWeDoNotComputeWith) {
  for (const char* d : {"BOOL", "I8", "I16", "I32", "I64", "F64", "F8_E5M2"}) {
    expect_rejected(st_bytes(std::string(R"({"w":{"dtype":")") + d + R"(","shape":[1],"data_offsets":[0,1]}})", "x"),
                    {std::string("unsupported dtype '") + d + "' for tensor w"});
  }
}

TEST(Safetensors, BadShape) {
  expect_rejected(st_bytes(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "abcd"),
                  {"tensor w", "not a non-negative integer"});
  expect_rejected(st_bytes(R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", "abcd"),
                  {"tensor w", "not a non-negative integer"});
  expect_rejected(st_bytes(R"({"w":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}})", "abcd"),
                  {"tensor w", "not a non-negative integer"});
  expect_rejected(st_bytes(R"({"w":{"dtype":"F32","shape":4,"data_offsets":[0,4]}})", "abcd"),
                  {"tensor w", "'shape' must be an array"});
  expect_rejected(st_bytes(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", "abcd"), {"tensor w", "missing 'shape'"});
}

TEST(Safetensors, BadEntry) {
  expect_rejected(st_bytes(R"({"w":[1]})", ""), {"tensor w: entry must be an object"});
  expect_rejected(st_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}})", "abcd"),
                  {"tensor w: unexpected key 'x'"});
  expect_rejected(st_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", "abcd"),
                  {"tensor w", "'data_offsets' must be [begin, end]"});
  expect_rejected(st_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})", "abcd"),
                  {"tensor w", "'data_offsets' must be [begin, end]"});
  expect_rejected(st_bytes(R"({"__metadata__":{"a":1}})", ""), {"__metadata__ key 'a' must map to a string"});
  expect_rejected(st_bytes(R"({"__metadata__":[]})", ""), {"__metadata__ must be an object"});
}

TEST(Safetensors, OffsetsOutOfOrderOverlap) {
  // Listed out of order, and the second-listed tensor starts inside the first one's bytes.
  expect_rejected(two_tensors("[4,12]", "[0,8]", 12), {"overlap"});
}

TEST(Safetensors, Gap) {
  expect_rejected(two_tensors("[0,8]", "[12,20]", 20), {"gap in the data: bytes [8, 12) belong to no tensor"});
  // Data not starting at 0 is a gap too.
  expect_rejected(st_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", "12345678"),
                  {"gap in the data: bytes [0, 4)"});
}

TEST(Safetensors, Overlap) {
  expect_rejected(two_tensors("[0,8]", "[4,12]", 12), {"tensor b data_offsets [4, 12] overlap tensor a [0, 8]"});
  expect_rejected(two_tensors("[0,8]", "[0,8]", 8), {"overlap"});
}

TEST(Safetensors, BeginAfterEnd) {
  expect_rejected(st_bytes(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", "12345678"),
                  {"tensor w: data_offsets [8, 4] has begin > end"});
}

TEST(Safetensors, SizeMismatch) {
  expect_rejected(st_bytes(R"({"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,8]}})", "12345678"),
                  {"tensor w: shape [2, 3] x BF16 is 12 bytes but data_offsets [0, 8] span 8"});
}

TEST(Safetensors, ShapeProductOverflow) {
  // 2^32 x 2^32 overflows u64; 2^62 x 4 bytes overflows the byte count.
  expect_rejected(st_bytes(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", ""),
                  {"tensor w", "overflows"});
  expect_rejected(st_bytes(R"({"w":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}})", ""),
                  {"tensor w", "overflows"});
  expect_rejected(st_bytes(R"({"w":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,0]}})", ""),
                  {"tensor w", "too large"});
}

TEST(Safetensors, TruncatedData) {
  std::string full = st_file({{"a", "F32", {4}, testing::f32_data(4)}, {"b", "F32", {4}, testing::f32_data(4)}});
  expect_rejected(full.substr(0, full.size() - 3), {"tensor b", "run past the end of the data", "truncated"});
}

TEST(Safetensors, TrailingBytes) {
  std::string full = st_file({{"a", "F32", {4}, testing::f32_data(4)}});
  expect_rejected(full + "junk", {"4 trailing bytes after the last tensor"});
}

TEST(Safetensors, DuplicateName) {
  std::string h = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})";
  expect_rejected(st_bytes(h, std::string(16, '\0')), {"header: duplicate key \"a\""});
}

}  // namespace
}  // namespace mla
