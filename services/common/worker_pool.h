// WorkerPool: a fixed set of threads for engine work, so that it never runs on gRPC's threads.
// Strand: runs one stream's tasks in order, one at a time, on a WorkerPool.
#ifndef VOXFLOW_SERVICES_COMMON_WORKER_POOL_H_
#define VOXFLOW_SERVICES_COMMON_WORKER_POOL_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace voxflow {

class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  ~WorkerPool();  // Stop().
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Runs `task` on a pool thread; once the pool has stopped, on the caller's thread (nothing
  // submitted is ever dropped).
  void Submit(std::function<void()> task);
  // Runs what is queued (and what those tasks submit), then joins the threads. Idempotent. A
  // server stops its pool once its calls are done and before the gRPC server is destroyed: a
  // task may still be returning from a call's Finish after the call's OnDone.
  void Stop();

 private:
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  int running_threads_ = 0;  // Threads not yet returned (0 once stopped).
  std::vector<std::thread> threads_;
};

class Strand : public std::enable_shared_from_this<Strand> {
 public:
  static std::shared_ptr<Strand> Create(WorkerPool* pool) {
    return std::shared_ptr<Strand>(new Strand(pool));
  }
  // Queues `task` after every task posted before it.
  void Post(std::function<void()> task);
  // Runs `task` now, on this thread, when the strand is idle (nothing queued or running), else
  // queues it as Post does: the same order, without a hand-over to the pool in the common case.
  // Only for short work that never waits (the caller's thread may be gRPC's).
  void RunOrPost(std::function<void()> task);
  // Whether this thread is running a task RunOrPost did not hand over.
  static bool RunningInline();
  // Tasks queued or running.
  size_t pending() const;

 private:
  explicit Strand(WorkerPool* pool) : pool_(pool) {}
  void Drain();

  WorkerPool* const pool_;
  mutable std::mutex mu_;
  std::deque<std::function<void()>> tasks_;
  bool running_ = false;
};

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_WORKER_POOL_H_
