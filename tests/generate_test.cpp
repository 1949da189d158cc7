// Stop-string handling of the generation loop: text is released only when it cannot be the start of
// a stop string, and generation ends before the first complete one.
#include <gtest/gtest.h>

#include "engine/generate.h"
#include "testing/byte_tokenizer.h"

namespace mla {
namespace {

using testing::ByteTokenizer;

// Feeds `text` byte by byte and returns what was released at each step, joined by '|'.
std::string stream(const std::string& text, std::vector<std::string> stop, bool* stopped = nullptr) {
  ByteTokenizer tok;
  TextStream ts(tok, std::move(stop));
  std::string out;
  for (int32_t id : tok.encode(text)) {
    out += ts.push(id) + "|";
    if (ts.stopped()) break;
  }
  out += ts.finish();
  if (stopped) *stopped = ts.stopped();
  return out;
}

TEST(TextStream, HoldsSplitCharactersAndStopPrefixesThenCutsAtTheStop) {
  bool stopped = false;
  // "é" is two bytes: nothing is released after the first.
  EXPECT_EQ(stream("a\xc3\xa9" "b", {}, &stopped), "a||\xc3\xa9|b|");
  EXPECT_FALSE(stopped);
  // "<" and "</" may begin "</s>": held until "</x" rules it out.
  EXPECT_EQ(stream("a</x", {"</s>"}), "a|||</x|");
  // A completed stop string ends the stream; its text and anything after are never released.
  EXPECT_EQ(stream("ab</s>cd", {"</s>"}, &stopped), "a|b|||||");
  EXPECT_TRUE(stopped);
  // Held-back text is released at the end when no stop completes.
  EXPECT_EQ(stream("ab<", {"</s>"}), "a|b||<");
}

TEST(StopStrings, FindsEarliestCompleteStop) {
  const std::vector<std::string> stop = {"</s>", "\n\n"};
  EXPECT_EQ(find_stop("hello</s> world\n\n", stop), 5u);
  EXPECT_EQ(find_stop("a\n\nb</s>", stop), 1u);
  EXPECT_EQ(find_stop("nothing here", stop), std::string::npos);
  EXPECT_EQ(find_stop("anything", {}), std::string::npos);
}

TEST(StopStrings, HoldsBackAPossibleStopPrefix) {
  const std::vector<std::string> stop = {"</s>"};
  EXPECT_EQ(stop_safe_length("hello <", stop), 6u);    // "<" may begin "</s>"
  EXPECT_EQ(stop_safe_length("hello </", stop), 6u);
  EXPECT_EQ(stop_safe_length("hello </x", stop), 9u);  // can no longer become a stop string
  EXPECT_EQ(stop_safe_length("hello", {}), 5u);
  EXPECT_EQ(stop_safe_length("", stop), 0u);
}

}  // namespace
}  // namespace mla
