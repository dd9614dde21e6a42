// The one persistent thread pool of the process.
// parallel_for gives each thread a contiguous share of the task indices (the same share of every
// job, so data stays in the core's caches from one layer to the next) and lets threads that finish
// early take the rest of the others' shares, so uneven tasks still balance.
// Workers spin briefly after a job before sleeping, since an inference run issues many short jobs
// back to back. One job runs at a time; a caller that finds the pool busy (another Python thread
// serving a request, or a nested call) runs its tasks inline rather than oversubscribing cores.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace sr {

class ThreadPool {
 public:
  static ThreadPool& instance();
  ~ThreadPool();

  // Total threads that execute tasks, the caller included (>= 1).
  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }
  void set_num_threads(int n);

  // Runs fn(i) for i in [0, n); returns when all are done. fn must not throw.
  void parallel_for(int64_t n, const std::function<void(int64_t)>& fn);

 private:
  ThreadPool();
  void start(int workers);
  void stop();
  void worker_loop(int slot, uint64_t start_generation);
  void drain(const std::function<void(int64_t)>& fn, int slot);
  bool run_one(const std::function<void(int64_t)>& fn, int owner);

  // Thread `slot` (0: the caller, i: worker i - 1) owns tasks [begin, end) of a job of n: slot
  // t gets [t * n / T, (t + 1) * n / T). It runs those first, then takes what is left of the
  // others'. So the same tasks of consecutive jobs (the same columns of consecutive layers) run on
  // the same core, whose caches hold what the previous job wrote there.
  struct alignas(64) Range {
    std::atomic<int64_t> next{0};
    int64_t end = 0;
  };
  std::unique_ptr<Range[]> ranges_;

  std::vector<std::thread> workers_;
  std::mutex job_mutex_;  // one job at a time
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  const std::function<void(int64_t)>* fn_ = nullptr;
  std::atomic<int64_t> done_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> active_workers_{0};
  bool quit_ = false;
};

int default_num_threads();

}  // namespace sr
