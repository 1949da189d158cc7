#include "engine/text_stream.h"

#include <algorithm>

namespace mla {

size_t find_stop(std::string_view text, const std::vector<std::string>& stop) {
  size_t best = std::string_view::npos;
  for (const auto& s : stop)
    if (!s.empty()) best = std::min(best, text.find(s));
  return best;
}

size_t stop_safe_length(std::string_view text, const std::vector<std::string>& stop) {
  size_t safe = text.size();
  for (const auto& s : stop) {
    if (s.empty()) continue;
    for (size_t k = std::min(s.size() - 1, text.size()); k > 0; --k)
      if (text.substr(text.size() - k) == std::string_view(s).substr(0, k)) {
        safe = std::min(safe, text.size() - k);
        break;
      }
  }
  return safe;
}

std::string TextStream::push(int32_t id) {
  if (stopped_) return {};
  pending_ += decoder_.push(id);
  std::string out;
  const size_t at = find_stop(pending_, stop_);
  if (at != std::string::npos) {
    out = pending_.substr(0, at);
    pending_.clear();
    stopped_ = true;
    return out;
  }
  const size_t safe = stop_safe_length(pending_, stop_);
  out = pending_.substr(0, safe);
  pending_.erase(0, safe);
  return out;
}

std::string TextStream::finish() {
  if (stopped_) return {};
  std::string out = std::move(pending_) + decoder_.flush();
  pending_.clear();
  return out;
}

}  // namespace mla
