// LiveSessions: the ids of the conversations in progress. A session id names one live
// conversation, so a second caller cannot join another's (and read its memory) by reusing its id.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_LIVE_SESSIONS_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_LIVE_SESSIONS_H_

#include <mutex>
#include <set>
#include <string>

#include "absl/status/statusor.h"

namespace voxflow::orchestrator {

class LiveSessions {
 public:
  // False if `id` is live already.
  bool Claim(const std::string& id);
  void Release(const std::string& id);
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::set<std::string> ids_;
};

// The id of a new session: `requested` (config.session_id, checked already), or a new random one
// when it is empty; claimed in `live` (null: not tracked). ALREADY_EXISTS naming the field when
// `requested` names a conversation in progress.
absl::StatusOr<std::string> ClaimSessionId(LiveSessions* live, const std::string& requested);

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_LIVE_SESSIONS_H_
