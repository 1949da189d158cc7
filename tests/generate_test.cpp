// Stop-string handling of the generation loop: text is released only when it cannot be the start of
// a stop string, and generation ends before the first complete one.
#include <gtest/gtest.h>

#include "engine/generate.h"

namespace mla {
namespace {

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
