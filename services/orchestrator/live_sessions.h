// LiveSessions: the ids of the conversations in progress. A session id names one live
// conversation, so a second caller cannot join another's (and read its memory) by reusing its id.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_LIVE_SESSIONS_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_LIVE_SESSIONS_H_

#include <mutex>
#include <set>
#include <string>

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

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_LIVE_SESSIONS_H_
