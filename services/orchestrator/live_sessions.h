// LiveSessions: the conversations in progress on this replica, by session id. A session id names
// one live conversation, so a second caller cannot join another's (and read its memory) by
// reusing its id; a resumed session takes its id over from the stream that had it; a draining
// server asks each to move.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_LIVE_SESSIONS_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_LIVE_SESSIONS_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"

namespace voxflow::orchestrator {

// What LiveSessions asks of a live session (called without LiveSessions' lock).
class LiveSession {
 public:
  virtual ~LiveSession() = default;
  // Another stream took the session over: end this one (ABORTED).
  virtual void EndTakenOver() = 0;
  // The server is draining: move the session to another replica at its next turn boundary.
  virtual void MoveAway() = 0;
};

class LiveSessions {
 public:
  // False if `id` is live already.
  bool Claim(const std::string& id, const std::string& owner, std::weak_ptr<LiveSession> session);
  // `owner` has `id` now; the stream that had it, if live here, is ended.
  void TakeOver(const std::string& id, const std::string& owner,
                std::weak_ptr<LiveSession> session);
  // Ends session `id` if it is live here under another owner than `owner` (who took it over).
  void EndUnlessOwnedBy(const std::string& id, const std::string& owner);
  // Ends session `id` if `owner` still has it here (a takeover learnt late).
  void EndOwnedBy(const std::string& id, const std::string& owner);
  // Drops `id` if `owner` still has it.
  void Release(const std::string& id, const std::string& owner);
  // Asks every live session to move (the server is draining).
  void MoveAll();
  size_t size() const;

 private:
  // Removes `id` when `end(owner)` says so, and ends its session.
  void EndIf(const std::string& id, const std::function<bool(const std::string&)>& end);

  struct Entry {
    std::string owner;
    std::weak_ptr<LiveSession> session;
  };
  mutable std::mutex mu_;
  std::map<std::string, Entry> sessions_;
};

// A new random session id ("s-" and 16 hex digits).
std::string NewSessionId();

// The id of a new session: `requested` (config.session_id, checked already), or a new random one
// when it is empty; claimed in `live` for `owner` (null: not tracked). ALREADY_EXISTS naming the
// field when `requested` names a conversation in progress.
absl::StatusOr<std::string> ClaimSessionId(LiveSessions* live, const std::string& requested,
                                           const std::string& owner,
                                           std::weak_ptr<LiveSession> session);

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_LIVE_SESSIONS_H_
