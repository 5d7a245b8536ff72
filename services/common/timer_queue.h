// TimerQueue: one thread that runs callbacks at given times (stage timeouts, retry backoff), so
// that waiting for a time never holds a thread per waiter. Callbacks must be quick: they cancel a
// token or hand work to another thread.
#ifndef VOXFLOW_SERVICES_COMMON_TIMER_QUEUE_H_
#define VOXFLOW_SERVICES_COMMON_TIMER_QUEUE_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/time/time.h"

namespace voxflow {

class TimerQueue {
 public:
  TimerQueue();
  ~TimerQueue();  // Drops the timers still pending; waits for a running callback.
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // A process-wide queue for code without one of its own.
  static TimerQueue& Default();

  // Runs `callback` on the timer thread at `when` (at once if it has passed). Returns an id.
  int64_t Schedule(absl::Time when, std::function<void()> callback);
  // True if the timer was still pending (it will not run). Cancel(0), no timer, is false. After Cancel returns, the callback is
  // not running, unless Cancel was called from the callback itself.
  bool Cancel(int64_t id);

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable changed_;
  std::multimap<absl::Time, int64_t> by_time_;
  std::map<int64_t, std::pair<absl::Time, std::function<void()>>> timers_;
  int64_t next_id_ = 1;
  int64_t running_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_TIMER_QUEUE_H_
