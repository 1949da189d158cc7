#include "dist/mpi.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <string>

#include "core/error.h"

#ifdef MLA_HAVE_MPI
#include <mpi.h>
#endif

namespace mla::dist {
namespace {

World g_world;
bool g_initialized = false;

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
  int provided = 0;
  check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  g_initialized = true;
  // Errors come back as codes (then mla::Error and one MPI_Abort) instead of MPI's own abort.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_world.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_world.size);
#else
  if (launched > 1)
    fail("started as one of ", launched, " MPI ranks, but this mla was built without MPI: install "
         "libopenmpi-dev (scripts/setup.sh) and rebuild, or run it without mpirun (docs/DISTRIBUTED.md)");
#endif
}

const World& world() { return g_world; }

void finalize() {
#ifdef MLA_HAVE_MPI
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

void bcast(void* data, size_t bytes, int root) {
#ifdef MLA_HAVE_MPI
  auto* p = static_cast<char*>(data);
  for (size_t done = 0; done < bytes;) {
    const int n = static_cast<int>(std::min<size_t>(kMaxCount, bytes - done));
    check(MPI_Bcast(p + done, n, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
    done += n;
  }
#else
  no_mpi();
#endif
}

void send_floats(const float* x, int64_t n, int dest, int tag) {
#ifdef MLA_HAVE_MPI
  for (int64_t done = 0; done < n;) {
    const int c = static_cast<int>(std::min(kMaxCount, n - done));
    check(MPI_Send(x + done, c, MPI_FLOAT, dest, tag, MPI_COMM_WORLD), "MPI_Send");
    done += c;
  }
#else
  no_mpi();
#endif
}

void recv_floats(float* x, int64_t n, int src, int tag) {
#ifdef MLA_HAVE_MPI
  for (int64_t done = 0; done < n;) {
    const int c = static_cast<int>(std::min(kMaxCount, n - done));
    check(MPI_Recv(x + done, c, MPI_FLOAT, src, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
    done += c;
  }
#else
  no_mpi();
#endif
}

}  // namespace mla::dist
