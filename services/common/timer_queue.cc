#include "services/common/timer_queue.h"

#include "absl/time/clock.h"

namespace voxflow {

TimerQueue::TimerQueue() : thread_([this] { Run(); }) {}

TimerQueue::~TimerQueue() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

TimerQueue& TimerQueue::Default() {
  static TimerQueue* const queue = new TimerQueue();  // Never destroyed: outlives every user.
  return *queue;
}

int64_t TimerQueue::Schedule(absl::Time when, std::function<void()> callback) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t id = next_id_++;
  timers_.emplace(id, std::make_pair(when, std::move(callback)));
  const bool earliest = by_time_.empty() || when < by_time_.begin()->first;
  by_time_.emplace(when, id);
  if (earliest) changed_.notify_all();
  return id;
}

bool TimerQueue::Cancel(int64_t id) {
  if (id == 0) return false;  // No timer (ids start at 1; 0 is "none running").
  std::unique_lock<std::mutex> lock(mu_);
  auto it = timers_.find(id);
  if (it == timers_.end()) {
    if (std::this_thread::get_id() != thread_.get_id()) {
      changed_.wait(lock, [&] { return running_ != id; });
    }
    return false;
  }
  auto [first, last] = by_time_.equal_range(it->second.first);
  for (auto t = first; t != last; ++t) {
    if (t->second == id) {
      by_time_.erase(t);
      break;
    }
  }
  timers_.erase(it);
  return true;
}

void TimerQueue::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (by_time_.empty()) {
      changed_.wait(lock);
      continue;
    }
    const absl::Time when = by_time_.begin()->first;
    if (absl::Now() < when) {
      changed_.wait_until(lock, absl::ToChronoTime(when));
      continue;
    }
    const int64_t id = by_time_.begin()->second;
    by_time_.erase(by_time_.begin());
    auto it = timers_.find(id);
    std::function<void()> callback = std::move(it->second.second);
    timers_.erase(it);
    running_ = id;
    lock.unlock();
    callback();
    lock.lock();
    running_ = 0;
    changed_.notify_all();
  }
}

}  // namespace voxflow
