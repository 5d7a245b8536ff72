// SessionLifetime: when a session ends by itself (the server's duration limit, or no input for
// too long while no turn runs) and when it needs the SessionTicker. A session with nothing to
// pace or finish leaves the ticker; its next request, or a timer when a limit falls due, brings
// it back. Time is passed in; timers are on the session's TimerQueue.
//
// Not thread-safe (the session's lock guards it) except Touch, which any request calls first.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_SESSION_LIFETIME_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_SESSION_LIFETIME_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/common/timer_queue.h"

namespace voxflow::orchestrator {

class SessionLifetime {
 public:
  // Zero durations: no limit.
  SessionLifetime(absl::Duration max_duration, absl::Duration idle_timeout, TimerQueue* timers,
                  absl::Time created);
  ~SessionLifetime();

  // A request came.
  void Touch(absl::Time now) { last_request_ns_ = absl::ToUnixNanos(now); }
  // DEADLINE_EXCEEDED naming the limit `now` is past, the first time only (the idle limit only
  // while `quiet`: no turn runs and no utterance is open); OK otherwise.
  absl::Status Expire(absl::Time now, bool quiet);
  bool expired() const { return expired_; }

  // How the session asks the ticker for ticks again; called at once to start them.
  void SetWaker(std::function<void()> wake);
  // Back on the ticker, unless on it already (or stopped).
  void Wake();
  // Off the ticker: `due(generation)` is called on the timer thread once a limit is due; it
  // should take the session's lock (if the session still lives) and call WakeOnTimer with it.
  void Sleep(absl::Time now, std::function<void(int64_t generation)> due);
  // A wake timer fired: back on the ticker, unless the session woke or slept again since.
  void WakeOnTimer(int64_t generation);
  // The session is over: no more ticks (its wake timer becomes one to cancel).
  void Stop();
  // The wake timers no longer needed, to cancel once the session's lock is released: a timer's
  // callback waits for that lock, and TimerQueue::Cancel waits for a running callback.
  std::vector<int64_t> TakeTimersToCancel() { return std::exchange(timers_to_cancel_, {}); }

 private:
  // The pending wake timer, if any, joins those to cancel.
  void DropWakeTimer();

  const absl::Duration max_duration_;
  const absl::Duration idle_timeout_;
  TimerQueue* const timers_;
  const absl::Time created_;
  std::atomic<int64_t> last_request_ns_;
  bool expired_ = false;
  bool stopped_ = false;
  // On the ticker (or about to be): set by Wake, cleared by Sleep.
  bool ticking_ = false;
  std::function<void()> wake_ticks_;
  int64_t wake_timer_ = 0;
  std::vector<int64_t> timers_to_cancel_;
  int64_t generation_ = 0;  // Of the last Sleep.
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_SESSION_LIFETIME_H_
