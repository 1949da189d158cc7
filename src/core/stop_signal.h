// SIGINT and SIGTERM as a request to stop, for a program with many threads (`mla serve`): a
// handler installed for the whole process posts a semaphore (async-signal-safe) that one thread
// waits on, whichever thread the signal lands on. (Blocking the signals for sigwait() would need
// every thread to block them, MPI's own threads included.)
#pragma once

namespace mla {

// From now on SIGINT and SIGTERM no longer end the process: they wake wait_for_stop_signal().
void catch_stop_signals();
// Blocks until SIGINT or SIGTERM arrives (after catch_stop_signals); returns its number.
int wait_for_stop_signal();
// SIGINT and SIGTERM are ignored: for a process that another one ends (a pipeline rank, which rank 0
// stops; mpirun signals every rank at once).
void ignore_stop_signals();

}  // namespace mla
