#include "services/orchestrator/live_sessions.h"

#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/common/logging.h"

namespace voxflow::orchestrator {

std::string NewSessionId() {
  // std::mutex, not absl::Mutex: TSan sees only the former in Debian's uninstrumented Abseil.
  static std::mutex mu;
  static std::mt19937_64 gen(std::random_device{}());
  std::lock_guard<std::mutex> lock(mu);
  return absl::StrFormat("s-%016x", gen());
}

bool LiveSessions::Claim(const std::string& id, const std::string& owner,
                         std::weak_ptr<LiveSession> session) {
  std::lock_guard<std::mutex> lock(mu_);
  return sessions_.emplace(id, Entry{owner, std::move(session)}).second;
}

void LiveSessions::TakeOver(const std::string& id, const std::string& owner,
                            std::weak_ptr<LiveSession> session) {
  std::shared_ptr<LiveSession> previous;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Entry& entry = sessions_[id];
    previous = entry.session.lock();
    entry = Entry{owner, std::move(session)};
  }
  if (previous != nullptr) previous->EndTakenOver();
}

void LiveSessions::EndIf(const std::string& id,
                         const std::function<bool(const std::string&)>& end) {
  std::shared_ptr<LiveSession> session;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end() || !end(it->second.owner)) return;
    session = it->second.session.lock();
    sessions_.erase(it);
  }
  if (session != nullptr) session->EndTakenOver();
}

void LiveSessions::EndUnlessOwnedBy(const std::string& id, const std::string& owner) {
  EndIf(id, [&owner](const std::string& live_owner) { return live_owner != owner; });
}

void LiveSessions::EndOwnedBy(const std::string& id, const std::string& owner) {
  EndIf(id, [&owner](const std::string& live_owner) { return live_owner == owner; });
}

void LiveSessions::Release(const std::string& id, const std::string& owner) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(id);
  if (it != sessions_.end() && it->second.owner == owner) sessions_.erase(it);
}

void LiveSessions::MoveAll() {
  std::vector<std::shared_ptr<LiveSession>> live;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, entry] : sessions_) {
      if (auto session = entry.session.lock()) live.push_back(std::move(session));
    }
  }
  for (auto& session : live) session->MoveAway();
}

size_t LiveSessions::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sessions_.size();
}

absl::StatusOr<std::string> ClaimSessionId(LiveSessions* live, const std::string& requested,
                                           const std::string& owner,
                                           std::weak_ptr<LiveSession> session) {
  if (live == nullptr) return requested.empty() ? NewSessionId() : requested;
  if (requested.empty()) {
    std::string id;
    do {
      id = NewSessionId();
    } while (!live->Claim(id, owner, session));
    return id;
  }
  if (!live->Claim(requested, owner, std::move(session))) {
    return absl::AlreadyExistsError(absl::StrCat(
        "config.session_id ", QuoteClientValue(requested),
        " names a conversation in progress: a session id belongs to one live conversation "
        "(resume it with its resume token instead); leave it empty to get a new one"));
  }
  return requested;
}

}  // namespace voxflow::orchestrator
