// SessionTicker: one thread that gives every live session a tick every `period` (10 ms): input
// jitter-buffer playout, output pacing, turn bookkeeping. One thread for all sessions instead of a
// timer thread each.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_SESSION_TICKER_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_SESSION_TICKER_H_

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/time/time.h"

namespace voxflow::orchestrator {

class SessionTicker {
 public:
  // A tick returns false to be removed.
  using Tick = std::function<bool(absl::Time now)>;

  explicit SessionTicker(absl::Duration period = absl::Milliseconds(10));
  ~SessionTicker();
  SessionTicker(const SessionTicker&) = delete;
  SessionTicker& operator=(const SessionTicker&) = delete;

  void Add(Tick tick);
  size_t size() const;

 private:
  void Run();

  const absl::Duration period_;
  mutable std::mutex mu_;
  std::condition_variable stop_;
  std::vector<Tick> ticks_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_SESSION_TICKER_H_
