#include "services/orchestrator/fallback_memory.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace voxflow::orchestrator {

FallbackMemory::FallbackMemory(std::unique_ptr<ConversationMemory> shared,
                               std::function<void(const std::string&)> warn,
                               size_t max_exchanges_per_session)
    : shared_(std::move(shared)),
      warn_(std::move(warn)),
      max_exchanges_(max_exchanges_per_session),
      local_(max_exchanges_per_session) {}

bool FallbackMemory::store_down() const {
  std::lock_guard<std::mutex> lock(mu_);
  return down_;
}

bool FallbackMemory::Noted(const absl::Status& status) {
  bool changed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    changed = down_ == status.ok();
    down_ = !status.ok();
  }
  if (changed && warn_) {
    warn_(status.ok() ? std::string("session store is back: conversation memory is shared again")
                      : absl::StrCat("session store failed (", status.message(),
                                     "): conversation memory is kept in process until it is back"));
  }
  return status.ok();
}

bool FallbackMemory::Resync(absl::string_view session_id) {
  absl::StatusOr<std::vector<Exchange>> all = local_.Fetch(session_id, max_exchanges_);
  if (!all.ok()) return false;
  for (Exchange& exchange : *all) {
    if (!Noted(shared_->Record(session_id, std::move(exchange)))) return false;
  }
  std::lock_guard<std::mutex> lock(mu_);
  unsynced_.erase(std::string(session_id));
  return true;
}

absl::StatusOr<std::vector<Exchange>> FallbackMemory::Fetch(absl::string_view session_id,
                                                            size_t max_exchanges) {
  bool unsynced;
  {
    std::lock_guard<std::mutex> lock(mu_);
    unsynced = unsynced_.count(session_id) > 0;
  }
  if (unsynced && !Resync(session_id)) return local_.Fetch(session_id, max_exchanges);
  absl::StatusOr<std::vector<Exchange>> shared = shared_->Fetch(session_id, max_exchanges);
  if (!Noted(shared.status())) return local_.Fetch(session_id, max_exchanges);
  return shared;
}

absl::Status FallbackMemory::Record(absl::string_view session_id, Exchange exchange) {
  if (absl::Status s = local_.Record(session_id, exchange); !s.ok()) return s;
  bool unsynced;
  {
    std::lock_guard<std::mutex> lock(mu_);
    unsynced = unsynced_.count(session_id) > 0;
  }
  // A session the store missed writes is written whole (this exchange with it).
  if (unsynced) {
    Resync(session_id);
    return absl::OkStatus();
  }
  if (!Noted(shared_->Record(session_id, std::move(exchange)))) {
    std::lock_guard<std::mutex> lock(mu_);
    unsynced_.insert(std::string(session_id));
  }
  return absl::OkStatus();
}

void FallbackMemory::Forget(absl::string_view session_id) {
  local_.Forget(session_id);
  shared_->Forget(session_id);
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = unsynced_.find(session_id); it != unsynced_.end()) unsynced_.erase(it);
}

void FallbackMemory::Unload(absl::string_view session_id) {
  local_.Forget(session_id);
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = unsynced_.find(session_id); it != unsynced_.end()) unsynced_.erase(it);
}

}  // namespace voxflow::orchestrator
