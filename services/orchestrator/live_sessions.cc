#include "services/orchestrator/live_sessions.h"

namespace voxflow::orchestrator {

bool LiveSessions::Claim(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  return ids_.insert(id).second;
}

void LiveSessions::Release(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  ids_.erase(id);
}

size_t LiveSessions::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ids_.size();
}

}  // namespace voxflow::orchestrator
