// Errors: one exception type carrying what was wrong and where (file, tensor, argument).
// Thrown inside the engine, caught at the API boundary (main, server handlers).
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace mla {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Concatenates any streamable values: str("tensor ", name, " has ", n, " dims").
template <class... Args>
std::string str(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

template <class... Args>
[[noreturn]] void fail(const Args&... args) {
  throw Error(str(args...));
}

}  // namespace mla
