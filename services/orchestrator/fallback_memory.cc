#include "services/orchestrator/fallback_memory.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace voxflow::orchestrator {

FallbackMemory::FallbackMemory(std::unique_ptr<ConversationMemory> shared, StoreOutage* outage,
                               size_t max_exchanges_per_session)
    : shared_(std::move(shared)),
      outage_(outage),
      max_exchanges_(max_exchanges_per_session),
      local_(max_exchanges_per_session) {}

bool FallbackMemory::store_down() const { return outage_ != nullptr && outage_->down(); }

bool FallbackMemory::Noted(const absl::Status& status) {
  // Any failure: the in-process copy serves this call.
  if (outage_ != nullptr) outage_->Note(!status.ok(), status.message());
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
