#include "server/reasoning_split.h"

#include <algorithm>

namespace mla::server {
namespace {

constexpr std::string_view kOpen = "<think>", kClose = "</think>";

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// Length of the longest suffix of `s` that is a proper prefix of `tag`.
size_t partial_tag(std::string_view s, std::string_view tag) {
  for (size_t k = std::min(tag.size() - 1, s.size()); k > 0; --k)
    if (s.substr(s.size() - k) == tag.substr(0, k)) return k;
  return 0;
}

}  // namespace

ReasoningSplitter::ReasoningSplitter(bool opened_think) : opened_think_(opened_think) {}

ReasoningSplitter::Piece ReasoningSplitter::push(std::string_view text) {
  held_.append(text);
  return drain(false);
}

ReasoningSplitter::Piece ReasoningSplitter::flush() { return drain(true); }

ReasoningSplitter::Piece ReasoningSplitter::drain(bool final) {
  Piece out;
  if (state_ == State::Start) {
    // Leading whitespace decides nothing; then "<think>" opens the reasoning (dropped even when the
    // prompt opened it already); other text is reasoning after an opened think, else the answer.
    size_t i = 0;
    while (i < held_.size() && is_space(held_[i])) ++i;
    std::string_view rest = std::string_view(held_).substr(i);
    if (rest.size() >= kOpen.size() && rest.substr(0, kOpen.size()) == kOpen) {
      held_.erase(0, i + kOpen.size());
      state_ = State::Reasoning;
    } else if (!final && kOpen.substr(0, rest.size()) == rest) {
      return out;  // still possibly "<think>"
    } else {
      state_ = opened_think_ ? State::Reasoning : State::Answer;
    }
  }
  if (state_ == State::Reasoning) {
    const size_t close = held_.find(kClose);
    std::string_view body = std::string_view(held_).substr(0, close == std::string::npos ? held_.size() : close);
    // Hold a possible partial "</think>" and trailing whitespace (dropped if "</think>" follows).
    size_t keep = body.size();
    if (close == std::string::npos && !final) keep -= partial_tag(body, kClose);
    size_t end = keep;
    while (end > 0 && is_space(body[end - 1])) --end;
    size_t begin = 0;
    if (!reasoning_started_)
      while (begin < end && is_space(body[begin])) ++begin;
    if (begin < end) {
      out.reasoning.assign(body.substr(begin, end - begin));
      reasoning_started_ = true;
    }
    if (close == std::string::npos) {
      held_.erase(0, end);
      return out;
    }
    held_.erase(0, close + kClose.size());
    state_ = State::Answer;
  }
  // Answer: everything, leading whitespace dropped.
  size_t begin = 0;
  if (!answer_started_)
    while (begin < held_.size() && is_space(held_[begin])) ++begin;
  if (begin < held_.size()) {
    out.content.assign(held_, begin);
    answer_started_ = true;
  }
  held_.clear();
  return out;
}

}  // namespace mla::server
