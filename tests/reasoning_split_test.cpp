// The streaming <think> splitter (src/server/reasoning_split.h) against the whole-reply split the
// chat template uses (split_reasoning): same reasoning and answer for every way of cutting the
// reply into pieces, tags split across pieces included.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/reasoning_split.h"
#include "tokenizer/chat_template.h"

namespace mla::server {
namespace {

struct Joined {
  std::string reasoning, content;
};

Joined run(const std::vector<std::string>& pieces, bool opened) {
  ReasoningSplitter s(opened);
  Joined j;
  for (const auto& p : pieces) {
    auto out = s.push(p);
    j.reasoning += out.reasoning;
    j.content += out.content;
  }
  auto out = s.flush();
  j.reasoning += out.reasoning;
  j.content += out.content;
  return j;
}

// Replies the streaming split must agree with split_reasoning on: at most one "</think>", and
// either an opened think, a leading "<think>", or no "</think>" at all.
const std::vector<std::string> kOpenedReplies = {
    "",
    "plain reasoning only",
    "  step one\nstep two  \n",
    "reasoning</think>answer",
    "\nfirst, think.\n</think>\n\nThe answer is 42.",
    "<think>\nalready opened</think> answer ",
    "a < b and </thin is not a tag</think>ok",
    "</think>only an answer",
    "reasoning</think>",
    "x\n\n</think>\n",
};
const std::vector<std::string> kClosedReplies = {
    "",
    "just an answer",
    "  leading spaces answer",
    "<think>reasoning</think>answer",
    "  <think>\n r \n</think>\n a",
    "<think>never closed",
    "<thinking is not the tag",
    "<",
    "<thi",
};

void check_all_cuts(const std::string& reply, bool opened) {
  const ReasoningSplit want = split_reasoning(reply, opened);
  const Joined whole = run({reply}, opened);
  EXPECT_EQ(whole.reasoning, want.reasoning) << "reply: " << reply;
  EXPECT_EQ(whole.content, want.answer) << "reply: " << reply;
  for (size_t cut = 0; cut <= reply.size(); ++cut) {
    const Joined two = run({reply.substr(0, cut), reply.substr(cut)}, opened);
    EXPECT_EQ(two.reasoning, want.reasoning) << "reply: " << reply << " cut at " << cut;
    EXPECT_EQ(two.content, want.answer) << "reply: " << reply << " cut at " << cut;
  }
  std::vector<std::string> bytes;
  for (char c : reply) bytes.emplace_back(1, c);
  const Joined each = run(bytes, opened);
  EXPECT_EQ(each.reasoning, want.reasoning) << "reply byte by byte: " << reply;
  EXPECT_EQ(each.content, want.answer) << "reply byte by byte: " << reply;
}

TEST(ReasoningSplit, MatchesSplitReasoningAfterAnOpenedThink) {
  for (const auto& r : kOpenedReplies) check_all_cuts(r, true);
}

TEST(ReasoningSplit, MatchesSplitReasoningWithoutAnOpenedThink) {
  for (const auto& r : kClosedReplies) check_all_cuts(r, false);
}

TEST(ReasoningSplit, ReleasesTextAsSoonAsItIsCertain) {
  ReasoningSplitter s(true);
  EXPECT_EQ(s.push("Let me").reasoning, "Let me");
  EXPECT_EQ(s.push(" think</thi").reasoning, " think");  // the partial tag is held
  auto p = s.push("nk>\n\nHi");
  EXPECT_EQ(p.reasoning, "");
  EXPECT_EQ(p.content, "Hi");
  EXPECT_EQ(s.push(" there").content, " there");

  ReasoningSplitter answer(false);
  EXPECT_EQ(answer.push("Hello").content, "Hello");  // no "<think>": the answer streams at once
  ReasoningSplitter maybe(false);
  EXPECT_EQ(maybe.push("<thi").content, "");  // could still be "<think>"
  EXPECT_EQ(maybe.push("s>").content, "<this>");
}

}  // namespace
}  // namespace mla::server
