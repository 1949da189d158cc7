// Messages a rank sends without waiting for their receiver (docs/DISTRIBUTED.md, micro-batches):
// each is copied into a buffer of the outbox and posted, and the sender goes on at once. So a
// pipeline stage hands its rows on (or the last stage its logits back) and computes the next
// micro-batch while the next rank is still busy with the one before; a blocking send would wait
// until the receiver has finished that one and posted its receive.
#pragma once
#include <cstddef>
#include <deque>
#include <span>
#include <vector>

#include "dist/mpi.h"

namespace mla::dist {

class Outbox {
 public:
  // At most `max_in_flight` messages wait for their receiver; one more first waits for the oldest:
  // the receiver is then the slower side, which waiting does not slow down further, and the
  // buffers stay bounded (rows of max_in_flight prefill chunks at most).
  Outbox(int dest, int tag, size_t max_in_flight);
  // Destroying it waits for every message (before MPI_Finalize; Request's destructor).

  void send(std::span<const std::byte> data);

 private:
  struct Message {
    std::vector<std::byte> data;
    Request sent;  // declared after `data`: destroyed (waited for) first
  };
  int dest_, tag_;
  size_t max_in_flight_;
  std::deque<Message> in_flight_;                // oldest first
  std::vector<std::vector<std::byte>> spare_;  // buffers of delivered messages, reused
};

}  // namespace mla::dist
