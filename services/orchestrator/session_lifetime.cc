#include "services/orchestrator/session_lifetime.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace voxflow::orchestrator {

SessionLifetime::SessionLifetime(absl::Duration max_duration, absl::Duration idle_timeout,
                                 TimerQueue* timers, absl::Time created)
    : max_duration_(max_duration),
      idle_timeout_(idle_timeout),
      timers_(timers),
      created_(created),
      last_request_ns_(absl::ToUnixNanos(created)) {}

SessionLifetime::~SessionLifetime() {
  // No lock here: the session is gone (a callback still running found it so).
  if (wake_timer_ != 0) timers_->Cancel(wake_timer_);
  for (int64_t timer : timers_to_cancel_) timers_->Cancel(timer);
}

absl::Status SessionLifetime::Expire(absl::Time now, bool quiet) {
  if (expired_) return absl::OkStatus();
  if (max_duration_ > absl::ZeroDuration() && now - created_ > max_duration_) {
    expired_ = true;
    return absl::DeadlineExceededError(absl::StrCat("the session reached the server's limit of ",
                                                    absl::FormatDuration(max_duration_)));
  }
  if (idle_timeout_ > absl::ZeroDuration() && quiet &&
      now - absl::FromUnixNanos(last_request_ns_) > idle_timeout_) {
    expired_ = true;
    return absl::DeadlineExceededError(
        absl::StrCat("no input for ", absl::FormatDuration(idle_timeout_),
                     " while no turn ran (the server's --session_idle_timeout)"));
  }
  return absl::OkStatus();
}

void SessionLifetime::SetWaker(std::function<void()> wake) {
  wake_ticks_ = std::move(wake);
  Wake();
}

void SessionLifetime::Wake() {
  if (ticking_ || stopped_ || !wake_ticks_) return;
  ticking_ = true;
  ++generation_;  // A timer already running finds itself stale.
  DropWakeTimer();
  wake_ticks_();
}

void SessionLifetime::DropWakeTimer() {
  if (wake_timer_ != 0) timers_to_cancel_.push_back(std::exchange(wake_timer_, 0));
}

void SessionLifetime::Sleep(absl::Time now, std::function<void(int64_t generation)> due) {
  ticking_ = false;
  absl::Time when = absl::InfiniteFuture();
  if (idle_timeout_ > absl::ZeroDuration()) {
    when = std::min(when, absl::FromUnixNanos(last_request_ns_) + idle_timeout_);
  }
  if (max_duration_ > absl::ZeroDuration()) when = std::min(when, created_ + max_duration_);
  if (when == absl::InfiniteFuture()) return;
  // Just past the limit, so that the tick it brings finds the limit exceeded.
  wake_timer_ =
      timers_->Schedule(std::max(when, now) + absl::Milliseconds(1),
                        [due = std::move(due), generation = ++generation_] { due(generation); });
}

void SessionLifetime::WakeOnTimer(int64_t generation) {
  if (generation != generation_) return;
  wake_timer_ = 0;
  Wake();
}

void SessionLifetime::Stop() {
  stopped_ = true;
  ++generation_;
  DropWakeTimer();
}

}  // namespace voxflow::orchestrator
