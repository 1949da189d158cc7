// One persistent pool of worker threads. A kernel is run as fn(ith, nth) on every thread (the
// caller is thread 0) and processes its own share of rows, heads or cache blocks, as in ggml.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mla {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads = default_threads());
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }
  // Runs fn(ith, nth) on all threads and returns when every one has finished.
  // Not reentrant: fn must not call run() on the same pool.
  void run(const std::function<void(int, int)>& fn);

  // Splits [0, n) into contiguous chunks, one per thread.
  template <class F>
  void parallel_for(int64_t n, F&& body) {
    if (n <= 0) return;
    if (n_threads_ == 1 || n == 1) {
      body(int64_t{0}, n);
      return;
    }
    run([&](int ith, int nth) {
      const int64_t begin = n * ith / nth, end = n * (ith + 1) / nth;
      if (begin < end) body(begin, end);
    });
  }

  // Physical cores (hyperthreads share the FMA units and the memory bus, so they rarely help).
  static int default_threads();

 private:
  void worker(int ith);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable start_cv_, done_cv_;
  const std::function<void(int, int)>* job_ = nullptr;  // published by the generation increment
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace mla
