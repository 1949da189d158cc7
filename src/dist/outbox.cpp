#include "dist/outbox.h"

#include <algorithm>

namespace mla::dist {

Outbox::Outbox(int dest, int tag, size_t max_in_flight)
    : dest_(dest), tag_(tag), max_in_flight_(std::max<size_t>(1, max_in_flight)) {}

void Outbox::send(std::span<const std::byte> data) {
  // Reaps from the oldest: messages to one rank with one tag are matched in the order sent.
  while (!in_flight_.empty() && (in_flight_.size() >= max_in_flight_ || in_flight_.front().sent.done())) {
    in_flight_.front().sent.wait();
    spare_.push_back(std::move(in_flight_.front().data));
    in_flight_.pop_front();
  }
  Message& m = in_flight_.emplace_back();
  if (!spare_.empty()) {
    m.data = std::move(spare_.back());
    spare_.pop_back();
  }
  m.data.assign(data.begin(), data.end());
  m.sent = isend_bytes(m.data.data(), m.data.size(), dest_, tag_);
}

}  // namespace mla::dist
