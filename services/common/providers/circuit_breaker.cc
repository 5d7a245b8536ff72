#include "services/common/providers/circuit_breaker.h"

#include <utility>

namespace voxflow {

const char* BreakerStateName(CircuitBreaker::State state) {
  switch (state) {
    case CircuitBreaker::State::kClosed:
      return "closed";
    case CircuitBreaker::State::kOpen:
      return "open";
    case CircuitBreaker::State::kHalfOpen:
      return "half-open";
  }
  return "?";
}

CircuitBreaker::CircuitBreaker(BreakerOptions options, Clock clock, Observer observer)
    : options_(options), clock_(std::move(clock)), observer_(std::move(observer)) {}

bool CircuitBreaker::Allow() {
  State from = State::kOpen, to = State::kHalfOpen;
  {
    std::lock_guard<std::mutex> lock(mu_);
    switch (state_) {
      case State::kClosed:
        return true;
      case State::kHalfOpen:
        if (probing_) return false;
        probing_ = true;
        return true;
      case State::kOpen:
        if (clock_() - opened_at_ < options_.cooldown) return false;
        from = state_;
        to = state_ = State::kHalfOpen;
        probing_ = true;
        break;
    }
  }
  Notify(from, to);
  return true;
}

void CircuitBreaker::RecordSuccess() {
  State from = State::kClosed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    consecutive_failures_ = 0;
    probing_ = false;
    if (state_ == State::kClosed) return;
    from = state_;
    state_ = State::kClosed;
  }
  Notify(from, State::kClosed);
}

void CircuitBreaker::RecordFailure() {
  State from = State::kClosed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++consecutive_failures_;
    const bool probe_failed = state_ == State::kHalfOpen;
    probing_ = false;
    if (state_ == State::kOpen) return;
    if (!probe_failed && consecutive_failures_ < options_.failures_to_open) return;
    from = state_;
    state_ = State::kOpen;
    opened_at_ = clock_();
  }
  Notify(from, State::kOpen);
}

CircuitBreaker::State CircuitBreaker::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

void CircuitBreaker::Notify(State from, State to) {
  if (observer_) observer_(from, to);
}

}  // namespace voxflow
