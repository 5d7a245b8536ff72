// SessionMutex: a std::mutex that knows which thread holds it, so that what must never run under
// a session's lock (a write to a backend, a stage's start) can be checked to run outside it.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_SESSION_MUTEX_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_SESSION_MUTEX_H_

#include <atomic>
#include <mutex>
#include <thread>

namespace voxflow::orchestrator {

class SessionMutex {
 public:
  void lock() {
    mu_.lock();
    holder_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  }
  void unlock() {
    holder_.store(std::thread::id(), std::memory_order_relaxed);
    mu_.unlock();
  }
  // Only the holder can see itself here: another thread's answer may be stale, never this one's.
  bool HeldByThisThread() const {
    return holder_.load(std::memory_order_relaxed) == std::this_thread::get_id();
  }

 private:
  std::mutex mu_;
  std::atomic<std::thread::id> holder_{};
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_SESSION_MUTEX_H_
