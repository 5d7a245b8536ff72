// Notification: absl::Notification's interface over std::mutex and std::condition_variable.
// Debian's Abseil is not built with TSan, so TSan cannot see absl::Notification order the
// notifier's writes before the waiter's reads; it sees these through its pthread interceptors.
#ifndef VOXFLOW_SERVICES_COMMON_NOTIFICATION_H_
#define VOXFLOW_SERVICES_COMMON_NOTIFICATION_H_

#include <condition_variable>
#include <mutex>

#include "absl/time/time.h"

namespace voxflow {

class Notification {
 public:
  void Notify() {
    std::lock_guard<std::mutex> lock(mu_);
    notified_ = true;
    changed_.notify_all();
  }
  bool HasBeenNotified() const {
    std::lock_guard<std::mutex> lock(mu_);
    return notified_;
  }
  void WaitForNotification() const {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [this] { return notified_; });
  }
  bool WaitForNotificationWithTimeout(absl::Duration timeout) const {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                             [this] { return notified_; });
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  bool notified_ = false;
};

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_NOTIFICATION_H_
