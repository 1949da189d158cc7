// The only place that knows MPI (Open MPI through CMake's FindMPI). Everything else talks to the
// other ranks through these few calls; a build without MPI keeps them, and they then say clearly
// that the feature is absent. One thread at a time calls them (MPI_THREAD_SERIALIZED): the main
// thread, or `mla serve`'s engine thread while it runs. A rank waiting for a message sleeps
// between polls instead of spinning a core.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace mla::dist {

struct World {
  int rank = 0, size = 1;
};

// Whether this build has MPI (CMake option MLA_MPI, on when FindMPI finds it).
bool built_with_mpi();
// First thing in main. With MPI: MPI_Init_thread; the world is MPI_COMM_WORLD. Without MPI, a launch
// by mpirun with more than one rank (OMPI_COMM_WORLD_SIZE, PMI_SIZE) throws mla::Error saying so,
// so that N copies do not each run the whole model unaware of each other.
void init(int* argc, char*** argv);
const World& world();
// Last thing in main on the normal path: with more than one rank, rank 0 prints what all ranks sent
// each other and each rank's peak resident memory ("mpi: 2 ranks sent 1234 bytes in 34 messages;
// peak resident memory by rank: 733 MiB, 719 MiB", stderr; scripts/mpi_bench.sh reads it), then
// MPI_Finalize. A no-op without MPI or before init.
void finalize();
// Ends every rank at once (MPI_Abort): the error path, so that no rank waits forever on one that
// failed. Without MPI (or one rank): std::exit(code).
[[noreturn]] void abort_all(int code);
// The error path of a rank: "mla: error (rank R of N): what" on stderr, then abort_all(1).
[[noreturn]] void fail_all_ranks(const char* what);

// On MPI_COMM_WORLD; each throws mla::Error when the build has no MPI.
void bcast(void* data, size_t bytes, int root);
void send_floats(const float* x, int64_t n, int dest, int tag);
void recv_floats(float* x, int64_t n, int src, int tag);
void send_bytes(const void* data, size_t bytes, int dest, int tag);
void recv_bytes(void* data, size_t bytes, int src, int tag);

// Non-blocking point-to-point messages, so that a rank can post a message and go on computing while
// its receiver is still busy (a pipeline with several steps in flight: pipeline.cpp). MPI moves the
// data whenever either rank calls into it. Raw bytes: every rank runs the same build.
class Request {
 public:
  Request();  // empty: already done
  Request(Request&&) noexcept;
  Request& operator=(Request&&) noexcept;
  // Waits for a request still under way, since MPI may still read or write its buffer; not while an
  // exception unwinds (that path ends every rank through fail_all_ranks and must not hang here).
  ~Request();
  bool done();  // true once complete; lets MPI progress
  void wait();  // polls and sleeps as the blocking calls do
  struct Parts;  // the MPI requests (one per piece of at most 2^30 bytes)

 private:
  std::unique_ptr<Parts> parts_;
  explicit Request(std::unique_ptr<Parts> parts);
  friend Request isend_bytes(const void*, size_t, int, int);
  friend Request irecv_bytes(void*, size_t, int, int);
};
// The buffer must stay as it is until the request is done.
Request isend_bytes(const void* data, size_t bytes, int dest, int tag);
Request irecv_bytes(void* data, size_t bytes, int src, int tag);
// Waits for the next message from `src` with `tag`, of any length up to 2^30 bytes (one piece of
// isend_bytes), and returns it.
std::vector<std::byte> recv_message(int src, int tag);

}  // namespace mla::dist
