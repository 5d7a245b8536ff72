// StoreOutage: whether a shared store (Redis) is down, as the code that uses it finds out, with
// one warning when it goes down and one when it is back, however many users find out (the
// session records and the conversation memory share one Redis, and one outage).
#ifndef VOXFLOW_SERVICES_COMMON_REDIS_STORE_OUTAGE_H_
#define VOXFLOW_SERVICES_COMMON_REDIS_STORE_OUTAGE_H_

#include <functional>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace voxflow {

class StoreOutage {
 public:
  explicit StoreOutage(std::function<void(const std::string&)> warn) : warn_(std::move(warn)) {}

  // A call to the store: `down` when it did not answer (`why`). Returns !down.
  bool Note(bool down, absl::string_view why) {
    bool changed;
    {
      std::lock_guard<std::mutex> lock(mu_);
      changed = down_ != down;
      down_ = down;
    }
    if (changed && warn_) {
      warn_(down ? absl::StrCat("session store failed (", why,
                                "): conversation memory and session records are kept in process "
                                "until it is back; sessions cannot move to another replica "
                                "meanwhile")
                 : std::string("session store is back: session state is shared again"));
    }
    return !down;
  }
  bool down() const {
    std::lock_guard<std::mutex> lock(mu_);
    return down_;
  }

 private:
  const std::function<void(const std::string&)> warn_;
  mutable std::mutex mu_;
  bool down_ = false;
};

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_REDIS_STORE_OUTAGE_H_
