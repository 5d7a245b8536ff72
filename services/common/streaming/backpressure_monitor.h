// Throttle signal with hysteresis over a bounded queue's fill level (Stageflow's
// BackpressureMonitor): throttling starts at fill >= high water, ends at fill <= low water, and
// keeps its state in between, so a queue hovering near one threshold does not flap.
#ifndef VOXFLOW_SERVICES_COMMON_STREAMING_BACKPRESSURE_MONITOR_H_
#define VOXFLOW_SERVICES_COMMON_STREAMING_BACKPRESSURE_MONITOR_H_

#include <cstddef>
#include <optional>

#include "absl/time/time.h"
#include "services/common/streaming/events.h"

namespace voxflow::streaming {

class BackpressureMonitor {
 public:
  struct Options {
    double high_water = 0.8;  // Fraction of max_size that starts throttling.
    double low_water = 0.2;   // Fraction of max_size that ends it.
  };

  enum class Change { kNone, kStarted, kEnded };

  BackpressureMonitor() : BackpressureMonitor(Options{}) {}
  explicit BackpressureMonitor(Options options) : options_(options) {}

  // Records the fill level `size`/`max_size` at `now`; says whether throttling started or ended.
  // When it changes, appends stream.throttle_started / stream.throttle_ended
  // {fill_percentage, queue_size} to `events` (if given).
  Change Update(size_t size, size_t max_size, absl::Time now, PendingEvents* events = nullptr);

  // Whether Update(size, max_size, ...) would change the state: lets hot paths skip reading the
  // clock when nothing can happen.
  bool WouldChange(size_t size, size_t max_size) const {
    const double fill = max_size == 0 ? 1.0 : static_cast<double>(size) / max_size;
    return throttled_ ? fill <= options_.low_water : fill >= options_.high_water;
  }

  bool throttled() const { return throttled_; }
  int throttle_count() const { return throttle_count_; }
  // Time spent throttled, including the current window if one is open at `now`.
  absl::Duration throttled_time(absl::Time now) const;

 private:
  Options options_;
  bool throttled_ = false;
  int throttle_count_ = 0;
  absl::Time throttle_start_;
  absl::Duration throttled_total_ = absl::ZeroDuration();
};

}  // namespace voxflow::streaming

#endif  // VOXFLOW_SERVICES_COMMON_STREAMING_BACKPRESSURE_MONITOR_H_
