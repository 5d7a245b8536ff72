#include "services/orchestrator/session_ticker.h"

#include "absl/time/clock.h"

namespace voxflow::orchestrator {

SessionTicker::SessionTicker(absl::Duration period) : period_(period), thread_([this] { Run(); }) {}

SessionTicker::~SessionTicker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_.notify_all();
  thread_.join();
}

void SessionTicker::Add(Tick tick) {
  std::lock_guard<std::mutex> lock(mu_);
  ticks_.push_back(std::move(tick));
}

size_t SessionTicker::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ticks_.size();
}

void SessionTicker::Run() {
  absl::Time next = absl::Now();
  std::vector<Tick> current;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      next += period_;
      const absl::Time now = absl::Now();
      if (next < now) next = now;  // Fell behind: do not burst to catch up.
      stop_.wait_until(lock, absl::ToChronoTime(next), [this] { return stopping_; });
      if (stopping_) return;
      current.swap(ticks_);
    }
    // Ticks run without the lock, so a tick may Add a session.
    const absl::Time now = absl::Now();
    std::vector<Tick> keep;
    keep.reserve(current.size());
    for (Tick& tick : current) {
      if (tick(now)) keep.push_back(std::move(tick));
    }
    current.clear();
    std::lock_guard<std::mutex> lock(mu_);
    for (Tick& tick : ticks_) keep.push_back(std::move(tick));  // Added during the ticks.
    ticks_.swap(keep);
  }
}

}  // namespace voxflow::orchestrator
