#include "services/common/streaming/backpressure_monitor.h"

#include <string>

#include "absl/strings/str_format.h"

namespace voxflow::streaming {

BackpressureMonitor::Change BackpressureMonitor::Update(size_t size, size_t max_size,
                                                        absl::Time now, PendingEvents* events) {
  const double fill = max_size == 0 ? 1.0 : static_cast<double>(size) / max_size;
  Change change = Change::kNone;
  if (!throttled_ && fill >= options_.high_water) {
    throttled_ = true;
    ++throttle_count_;
    throttle_start_ = now;
    change = Change::kStarted;
  } else if (throttled_ && fill <= options_.low_water) {
    throttled_ = false;
    throttled_total_ += now - throttle_start_;
    change = Change::kEnded;
  }
  if (change != Change::kNone && events != nullptr) {
    events->Add(change == Change::kStarted ? "stream.throttle_started" : "stream.throttle_ended",
                {{"fill_percentage", absl::StrFormat("%.1f", fill * 100)},
                 {"queue_size", std::to_string(size)}});
  }
  return change;
}

absl::Duration BackpressureMonitor::throttled_time(absl::Time now) const {
  return throttled_total_ + (throttled_ ? now - throttle_start_ : absl::ZeroDuration());
}

}  // namespace voxflow::streaming
