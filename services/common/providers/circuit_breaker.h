// CircuitBreaker: stops sending callers to a provider that keeps failing. After
// `failures_to_open` failures in a row it opens: requests skip the provider for `cooldown`. Then
// one request probes it (half-open); success closes the breaker, failure opens it again. Time
// comes from the injected clock. Thread-safe.
#ifndef VOXFLOW_SERVICES_COMMON_PROVIDERS_CIRCUIT_BREAKER_H_
#define VOXFLOW_SERVICES_COMMON_PROVIDERS_CIRCUIT_BREAKER_H_

#include <functional>
#include <mutex>

#include "absl/time/time.h"

namespace voxflow {

struct BreakerOptions {
  int failures_to_open = 3;
  absl::Duration cooldown = absl::Seconds(30);
};

class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };
  using Clock = std::function<absl::Time()>;
  // Called (outside the breaker's lock) when the state changes.
  using Observer = std::function<void(State from, State to)>;

  CircuitBreaker(BreakerOptions options, Clock clock, Observer observer = nullptr);

  // Whether a request may go to the provider now. An open breaker past its cool-down lets one
  // request through as the probe (and no other until the probe's outcome is recorded).
  bool Allow();
  void RecordSuccess();
  void RecordFailure();
  State state() const;

 private:
  void Notify(State from, State to);

  const BreakerOptions options_;
  const Clock clock_;
  const Observer observer_;
  mutable std::mutex mu_;
  State state_ = State::kClosed;
  int consecutive_failures_ = 0;
  absl::Time opened_at_;
  bool probing_ = false;
};

const char* BreakerStateName(CircuitBreaker::State state);

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_PROVIDERS_CIRCUIT_BREAKER_H_
