#include "sparse_runtime/threadpool.h"

#include <sched.h>

#include <chrono>
#include <cstdlib>
#include <string>

namespace sr {

int default_num_threads() {
  if (const char* env = std::getenv("SPARSE_RUNTIME_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  const unsigned hc = std::thread::hardware_concurrency();
  return hc > 0 ? static_cast<int>(hc) : 1;
}

ThreadPool& ThreadPool::instance() {
  // Leaked on purpose: joining threads from a static destructor at interpreter exit can deadlock.
  static ThreadPool* pool = new ThreadPool();
  return *pool;
}

ThreadPool::ThreadPool() { start(default_num_threads() - 1); }

ThreadPool::~ThreadPool() { stop(); }

void ThreadPool::start(int workers) {
  quit_ = false;
  // The generation a worker starts from is read here, not in the new thread: a thread scheduled
  // late must still see a job (or a stop) issued before it first ran.
  const uint64_t gen = generation_.load(std::memory_order_acquire);
  ranges_.reset(new Range[static_cast<size_t>(workers) + 1]);
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this, i, gen] { worker_loop(i + 1, gen); });
}

void ThreadPool::stop() {
  {
    std::lock_guard<std::mutex> lock(wake_mutex_);
    quit_ = true;
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

void ThreadPool::set_num_threads(int n) {
  if (n < 1) n = 1;
  std::lock_guard<std::mutex> job(job_mutex_);
  if (n == num_threads()) return;
  stop();
  start(n - 1);
}

// Runs the next task of `owner`'s share, if any is left.
bool ThreadPool::run_one(const std::function<void(int64_t)>& fn, int owner) {
  Range& r = ranges_[static_cast<size_t>(owner)];
  if (r.next.load(std::memory_order_relaxed) >= r.end) return false;
  const int64_t i = r.next.fetch_add(1, std::memory_order_relaxed);
  if (i >= r.end) return false;
  fn(i);
  done_.fetch_add(1, std::memory_order_acq_rel);
  return true;
}

void ThreadPool::drain(const std::function<void(int64_t)>& fn, int slot) {
  const int threads = num_threads();
  while (run_one(fn, slot)) {
  }
  for (int k = 1; k < threads; ++k) {
    const int other = (slot + k) % threads;
    while (run_one(fn, other)) {
    }
  }
}

void ThreadPool::worker_loop(int slot, uint64_t seen) {
  for (;;) {
    // Spin a little before sleeping: consecutive layers arrive microseconds apart.
    const auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
    uint64_t gen = generation_.load(std::memory_order_acquire);
    while (gen == seen && std::chrono::steady_clock::now() < spin_until) {
      for (int i = 0; i < 64; ++i) __builtin_ia32_pause();
      gen = generation_.load(std::memory_order_acquire);
    }
    if (gen == seen) {
      std::unique_lock<std::mutex> lock(wake_mutex_);
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      gen = generation_.load(std::memory_order_acquire);
    }
    seen = gen;
    // Pick the job up under the lock, so a caller that has closed its job (fn_ = null) is never
    // joined late by a worker holding a stale function.
    const std::function<void(int64_t)>* fn;
    {
      std::lock_guard<std::mutex> lock(wake_mutex_);
      if (quit_) return;
      fn = fn_;
      if (fn) active_workers_.fetch_add(1, std::memory_order_acq_rel);
    }
    if (!fn) continue;
    drain(*fn, slot);
    active_workers_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t)>& fn) {
  if (n <= 0) return;
  std::unique_lock<std::mutex> job(job_mutex_, std::try_to_lock);
  if (n == 1 || workers_.empty() || !job.owns_lock()) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(wake_mutex_);
    fn_ = &fn;
    // Shares by index: the same columns of consecutive layers on the same core. Against one
    // shared counter, dense ResNet-50 ran 3.6-6.1 % faster and BERT-base at 90 % 3 % (2 threads,
    // alternating in one process); pruned ResNet-50 the same within noise.
    const int threads = num_threads();
    for (int t = 0; t < threads; ++t) {
      Range& r = ranges_[static_cast<size_t>(t)];
      r.next.store(n * t / threads, std::memory_order_relaxed);
      r.end = n * (t + 1) / threads;
    }
    done_.store(0, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  wake_.notify_all();
  drain(fn, 0);
  while (done_.load(std::memory_order_acquire) < n) __builtin_ia32_pause();
  {
    std::lock_guard<std::mutex> lock(wake_mutex_);
    fn_ = nullptr;  // no worker picks this job up from now on
  }
  // Workers that did pick it up may still be leaving drain(); fn must outlive them.
  while (active_workers_.load(std::memory_order_acquire) > 0) __builtin_ia32_pause();
}

}  // namespace sr
