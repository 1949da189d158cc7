// Streaming split of a DeepSeek-R1 reply into reasoning (reasoning_content) and answer (content):
// text is pushed as it is generated, in pieces of any size, and each push returns the part of
// each that is certain. A "<think>" or "</think>" tag split across pieces is held back until it is
// complete or ruled out. The result over a whole reply matches split_reasoning()
// (tokenizer/chat_template.h) for replies with at most one "</think>": the opener and the
// whitespace around the reasoning dropped, the answer's leading whitespace dropped. (Text after
// the first "</think>" is answer here, where split_reasoning cuts at the last one; and without an
// opened think, a reply not starting with "<think>" streams as answer from its first byte.)
#pragma once
#include <string>
#include <string_view>

namespace mla::server {

class ReasoningSplitter {
 public:
  struct Piece {
    std::string reasoning, content;
  };

  // opened_think: the prompt ended with "<think>\n", so the reply starts inside the reasoning.
  // Otherwise the reply is reasoning only if it starts with "<think>".
  explicit ReasoningSplitter(bool opened_think);

  Piece push(std::string_view text);
  Piece flush();  // the end of the reply: release whatever is held

 private:
  enum class State { Start, Reasoning, Answer };
  Piece drain(bool final);

  bool opened_think_;
  State state_ = State::Start;
  std::string held_;                // text not yet classified
  bool reasoning_started_ = false;  // a non-space reasoning byte was released
  bool answer_started_ = false;     // a non-space answer byte was released
};

}  // namespace mla::server
