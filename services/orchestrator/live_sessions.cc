#include "services/orchestrator/live_sessions.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/common/logging.h"

namespace voxflow::orchestrator {
namespace {

std::string NewSessionId() {
  // std::mutex, not absl::Mutex: TSan sees only the former in Debian's uninstrumented Abseil.
  static std::mutex mu;
  static std::mt19937_64 gen(std::random_device{}());
  std::lock_guard<std::mutex> lock(mu);
  return absl::StrFormat("s-%016x", gen());
}

}  // namespace

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

absl::StatusOr<std::string> ClaimSessionId(LiveSessions* live, const std::string& requested) {
  if (live == nullptr) return requested.empty() ? NewSessionId() : requested;
  if (requested.empty()) {
    std::string id;
    do {
      id = NewSessionId();
    } while (!live->Claim(id));
    return id;
  }
  if (!live->Claim(requested)) {
    return absl::AlreadyExistsError(absl::StrCat(
        "config.session_id ", QuoteClientValue(requested),
        " names a conversation in progress: a session id belongs to one live conversation "
        "(its memory ends with it); leave it empty to get a new one"));
  }
  return requested;
}

}  // namespace voxflow::orchestrator
