#include "dist/mpi.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/human_bytes.h"

#ifdef MLA_HAVE_MPI
#include <mpi.h>
#include <sys/resource.h>
#endif

namespace mla::dist {
namespace {

World g_world;
[[maybe_unused]] bool g_initialized = false;  // used only with MPI
#ifdef MLA_HAVE_MPI
// What this rank sent: point-to-point messages, and broadcasts as rank 0 sent them (one copy to
// each other rank, whatever tree MPI uses underneath).
uint64_t g_sent_bytes = 0, g_sent_messages = 0;
#endif

// Messages go in pieces of at most this many elements: MPI counts are int.
constexpr int64_t kMaxCount = int64_t{1} << 30;

#ifndef MLA_HAVE_MPI
[[noreturn]] void no_mpi() {
  fail("this mla was built without MPI: install libopenmpi-dev (scripts/setup.sh) and rebuild to split a model "
       "across ranks (docs/DISTRIBUTED.md)");
}
#endif

#ifdef MLA_HAVE_MPI
void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  fail(what, ": ", std::string(msg, len));
}

// Polls `is_done` until it says true. Open MPI's blocking calls spin a core while they wait: a rank
// waiting for the next step of an idle `mla serve` would burn a whole core doing nothing, and on a
// machine shared by several ranks take it from the rank that computes. So: for the first `kSpin`
// it polls, yielding the core between polls (a message due within a layer's compute time: the
// expert split waits for rows and sums once per MoE layer, and sleeping there cost about a quarter
// of its decode speed, docs/DISTRIBUTED.md); then it sleeps, backing off to `kMaxSleep`: at most that much
// latency after a long wait, about a thousand wake-ups a second when idle.
template <class IsDone>
void poll(IsDone is_done) {
  using namespace std::chrono;
  constexpr auto kSpin = microseconds(2000), kMaxSleep = microseconds(500);
  const auto start = steady_clock::now();
  auto sleep = microseconds(10);
  for (;;) {
    if (is_done()) return;
    if (steady_clock::now() - start < kSpin) {
      std::this_thread::yield();
      continue;
    }
    std::this_thread::sleep_for(sleep);
    sleep = std::min(kMaxSleep, sleep * 2);
  }
}

// Waits for a non-blocking operation (poll).
void wait(MPI_Request& req, const char* what) {
  poll([&] {
    int done = 0;
    check(MPI_Test(&req, &done, MPI_STATUS_IGNORE), what);
    return done != 0;
  });
}

// Rank 0 prints what all ranks sent and each rank's peak resident memory (mapped weight pages
// included): what a split saves each machine, measured.
void report_ranks() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  const uint64_t mine[3] = {g_sent_bytes, g_sent_messages, static_cast<uint64_t>(ru.ru_maxrss) * 1024};
  std::vector<uint64_t> all(3 * g_world.size);
  if (MPI_Gather(mine, 3, MPI_UINT64_T, all.data(), 3, MPI_UINT64_T, 0, MPI_COMM_WORLD) != MPI_SUCCESS ||
      g_world.rank != 0)
    return;
  uint64_t bytes = 0, messages = 0;
  std::string resident;
  for (int r = 0; r < g_world.size; ++r) {
    bytes += all[3 * r];
    messages += all[3 * r + 1];
    resident += (r ? ", " : "") + human_bytes(all[3 * r + 2]);
  }
  std::fprintf(stderr, "mpi: %d ranks sent %llu bytes in %llu messages; peak resident memory by rank: %s\n",
               g_world.size, static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(messages),
               resident.c_str());
}
#endif

}  // namespace

bool built_with_mpi() {
#ifdef MLA_HAVE_MPI
  return true;
#else
  return false;
#endif
}

// The world size an MPI launcher (mpirun / mpiexec: Open MPI, PMI, PMIx) put in the environment;
// 0 when none started this process.
int launcher_world_size() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"})
    if (const char* v = std::getenv(var)) return std::max(1, std::atoi(v));
  return 0;
}

void init(int* argc, char*** argv) {
  const int launched = launcher_world_size();
#ifdef MLA_HAVE_MPI
  // A plain run (no launcher) never touches libmpi: nothing changes without mpirun, no start-up
  // cost, and none of Open MPI's own allocations kept until exit (LeakSanitizer would report them).
  if (launched == 0) return;
  // `mla serve` calls MPI from its engine thread, other commands from the main thread; never two
  // threads at once (mpi.h).
  int provided = 0;
  check(MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
  g_initialized = true;
  // Errors come back as codes (then mla::Error and one MPI_Abort) instead of MPI's own abort.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_world.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_world.size);
  if (provided < MPI_THREAD_SERIALIZED && g_world.size > 1)
    fail("this MPI library gives thread support level ", provided, "; mla needs MPI_THREAD_SERIALIZED (",
         MPI_THREAD_SERIALIZED, "): use Open MPI 4 or later");
#else
  if (launched > 1)
    fail("started as one of ", launched, " MPI ranks, but this mla was built without MPI: install "
         "libopenmpi-dev (scripts/setup.sh) and rebuild, or run it without mpirun (docs/DISTRIBUTED.md)");
#endif
}

const World& world() { return g_world; }

void finalize() {
#ifdef MLA_HAVE_MPI
  if (g_initialized && g_world.size > 1) report_ranks();
  if (g_initialized) MPI_Finalize();
  g_initialized = false;
#endif
}

void abort_all(int code) {
#ifdef MLA_HAVE_MPI
  if (g_initialized && g_world.size > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::exit(code);
}

void fail_all_ranks(const char* what) {
  std::fflush(stdout);
  std::fprintf(stderr, "mla: error (rank %d of %d): %s\n", g_world.rank, g_world.size, what);
  std::fflush(stderr);
  abort_all(1);
}

void bcast(void* data, size_t bytes, int root) {
#ifdef MLA_HAVE_MPI
  if (g_world.rank == root) g_sent_bytes += bytes * (g_world.size - 1), g_sent_messages += g_world.size - 1;
  auto* p = static_cast<char*>(data);
  for (size_t done = 0; done < bytes;) {
    const int n = static_cast<int>(std::min<size_t>(kMaxCount, bytes - done));
    MPI_Request req;
    check(MPI_Ibcast(p + done, n, MPI_BYTE, root, MPI_COMM_WORLD, &req), "MPI_Ibcast");
    wait(req, "MPI_Ibcast");
    done += n;
  }
#else
  no_mpi();
#endif
}

void send_bytes(const void* data, size_t bytes, int dest, int tag) {
#ifdef MLA_HAVE_MPI
  g_sent_bytes += bytes;
  ++g_sent_messages;
  const auto* p = static_cast<const char*>(data);
  for (size_t done = 0; done < bytes;) {
    const int c = static_cast<int>(std::min<size_t>(kMaxCount, bytes - done));
    MPI_Request req;
    check(MPI_Isend(p + done, c, MPI_BYTE, dest, tag, MPI_COMM_WORLD, &req), "MPI_Isend");
    wait(req, "MPI_Isend");
    done += c;
  }
#else
  no_mpi();
#endif
}

void recv_bytes(void* data, size_t bytes, int src, int tag) {
#ifdef MLA_HAVE_MPI
  auto* p = static_cast<char*>(data);
  for (size_t done = 0; done < bytes;) {
    const int c = static_cast<int>(std::min<size_t>(kMaxCount, bytes - done));
    MPI_Request req;
    check(MPI_Irecv(p + done, c, MPI_BYTE, src, tag, MPI_COMM_WORLD, &req), "MPI_Irecv");
    wait(req, "MPI_Irecv");
    done += c;
  }
#else
  no_mpi();
#endif
}

// Floats travel as their bytes: both ends are the same build on the same kind of machine.
void send_floats(const float* x, int64_t n, int dest, int tag) { send_bytes(x, n * sizeof(float), dest, tag); }

void recv_floats(float* x, int64_t n, int src, int tag) { recv_bytes(x, n * sizeof(float), src, tag); }

struct Request::Parts {
#ifdef MLA_HAVE_MPI
  std::vector<MPI_Request> reqs;
#endif
};

Request::Request() = default;
Request::Request(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}
Request::Request(Request&& o) noexcept = default;
Request& Request::operator=(Request&& o) noexcept {
  Request old(std::move(o));
  std::swap(parts_, old.parts_);
  return *this;  // `old` now holds what this held, and waits for it
}

Request::~Request() {
  if (!parts_ || std::uncaught_exceptions() > 0) return;
  try {
    wait();
  } catch (const std::exception& e) {
    fail_all_ranks(e.what());
  }
}

bool Request::done() {
  if (!parts_) return true;
#ifdef MLA_HAVE_MPI
  int done = 0;
  check(MPI_Testall(static_cast<int>(parts_->reqs.size()), parts_->reqs.data(), &done, MPI_STATUSES_IGNORE),
        "MPI_Testall");
  if (!done) return false;
#endif
  parts_.reset();
  return true;
}

void Request::wait() {
#ifdef MLA_HAVE_MPI
  poll([&] { return done(); });
#endif
}

#ifdef MLA_HAVE_MPI
namespace {

// One request per piece of at most kMaxCount bytes; `post` is MPI_Isend or MPI_Irecv's call.
template <class Post>
std::unique_ptr<Request::Parts> post_pieces(size_t bytes, Post post) {
  auto parts = std::make_unique<Request::Parts>();
  size_t done = 0;
  do {
    const int n = static_cast<int>(std::min<size_t>(kMaxCount, bytes - done));
    post(done, n, parts->reqs.emplace_back());
    done += n;
  } while (done < bytes);
  return parts;
}

}  // namespace
#endif

Request isend_bytes(const void* data, size_t bytes, int dest, int tag) {
#ifdef MLA_HAVE_MPI
  g_sent_bytes += bytes;
  ++g_sent_messages;
  const auto* p = static_cast<const char*>(data);
  return Request(post_pieces(bytes, [&](size_t at, int n, MPI_Request& req) {
    check(MPI_Isend(p + at, n, MPI_BYTE, dest, tag, MPI_COMM_WORLD, &req), "MPI_Isend");
  }));
#else
  no_mpi();
#endif
}

Request irecv_bytes(void* data, size_t bytes, int src, int tag) {
#ifdef MLA_HAVE_MPI
  auto* p = static_cast<char*>(data);
  return Request(post_pieces(bytes, [&](size_t at, int n, MPI_Request& req) {
    check(MPI_Irecv(p + at, n, MPI_BYTE, src, tag, MPI_COMM_WORLD, &req), "MPI_Irecv");
  }));
#else
  no_mpi();
#endif
}

std::vector<std::byte> recv_message(int src, int tag) {
#ifdef MLA_HAVE_MPI
  // Matched probe (MPI-3): the message found is the one received, whatever else arrives meanwhile.
  MPI_Message msg;
  MPI_Status status;
  poll([&] {
    int found = 0;
    check(MPI_Improbe(src, tag, MPI_COMM_WORLD, &found, &msg, &status), "MPI_Improbe");
    return found != 0;
  });
  int n = 0;
  check(MPI_Get_count(&status, MPI_BYTE, &n), "MPI_Get_count");
  std::vector<std::byte> out(static_cast<size_t>(n));
  check(MPI_Mrecv(out.data(), n, MPI_BYTE, &msg, MPI_STATUS_IGNORE), "MPI_Mrecv");
  return out;
#else
  no_mpi();
#endif
}

}  // namespace mla::dist
