#include "core/stop_signal.h"

#include <semaphore.h>

#include <atomic>
#include <cerrno>
#include <csignal>

#include "core/error.h"

namespace mla {
namespace {

sem_t g_stop;
std::atomic<int> g_signal{0};

void on_stop_signal(int sig) {
  g_signal.store(sig);
  sem_post(&g_stop);
}

void set_handler(void (*handler)(int)) {
  struct sigaction sa = {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM})
    if (sigaction(sig, &sa, nullptr) != 0) fail("sigaction(", sig, ") failed: errno ", errno);
}

}  // namespace

void catch_stop_signals() {
  if (sem_init(&g_stop, 0, 0) != 0) fail("sem_init failed: errno ", errno);
  set_handler(on_stop_signal);
}

int wait_for_stop_signal() {
  while (sem_wait(&g_stop) != 0)
    if (errno != EINTR) fail("sem_wait failed: errno ", errno);
  return g_signal.load();
}

void ignore_stop_signals() { set_handler(SIG_IGN); }

}  // namespace mla
