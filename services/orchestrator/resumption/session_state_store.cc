#include "services/orchestrator/resumption/session_state_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace voxflow::orchestrator {

void RaiseTurnCounters(SessionRecord& record, const SessionRecord& counters) {
  record.last_turn_started = std::max(record.last_turn_started, counters.last_turn_started);
  record.last_turn_completed = std::max(record.last_turn_completed, counters.last_turn_completed);
}

absl::Status InProcessSessionStateStore::Create(const std::string& id, const std::string& owner) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!records_.emplace(id, SessionRecord{.owner = owner}).second) {
    return absl::AlreadyExistsError(absl::StrCat("session ", id, " is kept"));
  }
  return absl::OkStatus();
}

absl::StatusOr<SessionRecord> InProcessSessionStateStore::TakeOver(const std::string& id,
                                                                   const std::string& owner) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = records_.find(id);
  if (it == records_.end()) return absl::NotFoundError(absl::StrCat("no session ", id));
  SessionRecord before = it->second;
  it->second.owner = owner;
  return before;
}

absl::Status InProcessSessionStateStore::Save(const std::string& id, const std::string& owner,
                                              const SessionRecord& counters) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = records_.find(id);
  if (it == records_.end()) return absl::NotFoundError(absl::StrCat("no session ", id));
  if (it->second.owner != owner) {
    return absl::AbortedError(absl::StrCat("session ", id, " was taken over"));
  }
  RaiseTurnCounters(it->second, counters);
  return absl::OkStatus();
}

absl::Status InProcessSessionStateStore::Restore(const std::string& id,
                                                 const SessionRecord& record) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = records_.find(id);
  if (it != records_.end() && it->second.owner != record.owner) {
    return absl::AbortedError(absl::StrCat("session ", id, " was taken over"));
  }
  records_[id] = record;
  return absl::OkStatus();
}

void InProcessSessionStateStore::Forget(const std::string& id, const std::string& owner) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = records_.find(id);
  if (it != records_.end() && it->second.owner == owner) records_.erase(it);
}

size_t InProcessSessionStateStore::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return records_.size();
}

}  // namespace voxflow::orchestrator
