// Resumption: how a session begins (new, or resumed from a token), what of it is kept between
// turns, and how it ends. Shared by every session of a replica.
//
// A session's record (its turn counters and the stream that owns it) is kept in process and, with
// a shared store (Redis), where every replica can read it. Writes to the shared store happen on
// one writer thread, newest first per session, so that a turn never waits on the store; a store
// that is down costs a warning (once per outage) and resumption across replicas until it is back,
// never a call. A record the store lost (a restarted Redis) is written again at the session's
// next turn.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_RESUMPTION_RESUMPTION_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_RESUMPTION_RESUMPTION_H_

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/common/redis/store_outage.h"
#include "services/orchestrator/live_sessions.h"
#include "services/orchestrator/resumption/resume_tokens.h"
#include "services/orchestrator/resumption/session_state_store.h"

namespace voxflow::orchestrator {

// A session's hold on its id, from Begin to End.
struct SessionClaim {
  std::string session_id;
  std::string owner;  // This stream.
  std::string resume_token;
  bool resumed = false;
  SessionRecord before;  // A resumed session's counters as it left them.
};

class Resumption {
 public:
  // `shared`: null keeps records in process only (a session resumes only while it is live here,
  // and its memory ends with its stream). `replica`: this process's name in owner strings.
  Resumption(
      ResumeTokens tokens, LiveSessions* live, std::unique_ptr<SessionStateStore> shared,
      std::string replica, StoreOutage* outage,
      std::function<absl::Time()> now = [] { return absl::Now(); });
  // Writes what is queued, then stops the writer.
  ~Resumption();
  Resumption(const Resumption&) = delete;
  Resumption& operator=(const Resumption&) = delete;

  // A new session (`resume_token` empty: id `requested_id`, or a new one) or a resumed one (its
  // live stream, here or on another replica, is ended). Errors name config.session_id or
  // config.resume_token.
  absl::StatusOr<SessionClaim> Begin(const std::string& requested_id,
                                     const std::string& resume_token,
                                     std::weak_ptr<LiveSession> session);
  // The session's turn counters changed (queued for the shared store).
  void Save(const SessionClaim& claim, const SessionRecord& counters);
  // The same, written before it returns (a session about to move: the replica it moves to must
  // read its last turn).
  void SaveNow(const SessionClaim& claim, const SessionRecord& counters);
  // The stream ended. `conversation_over` (it ended OK, not moved): its record goes; otherwise a
  // shared record is kept for resumption until it expires.
  void End(const SessionClaim& claim, bool conversation_over);
  // Whether a session that ends keeps anything (a shared store): its memory is kept with it.
  bool keeps_ended_sessions() const { return shared_ != nullptr; }
  // A fresh token for the session (for a Reconnect event).
  std::string Token(const std::string& session_id) const;
  // A takeover published by a replica (RedisSessionStateStore::kTakeOverChannel).
  void OnTakeOverMessage(const std::string& message);

  // Waits until the writer has written everything queued so far (tests).
  void Flush();

 private:
  struct PendingSave {
    std::string owner;
    SessionRecord counters;
    bool forget = false;  // The conversation is over: its record goes.
  };
  void WriteLoop();
  void Write(const std::string& id, const PendingSave& save);
  // Tells `outage_` whether the shared store answered.
  void Noted(const absl::Status& status);
  std::string NewOwner();
  // `record` is this replica's record of session `id`.
  void KeepLocally(const std::string& id, const SessionRecord& record);

  const ResumeTokens tokens_;
  LiveSessions* const live_;
  const std::unique_ptr<SessionStateStore> shared_;
  const std::string replica_;
  StoreOutage* const outage_;  // Null: none.
  const std::function<absl::Time()> now_;
  InProcessSessionStateStore local_;  // The records of this replica's live sessions.

  std::mutex mu_;
  std::condition_variable wake_;
  std::map<std::string, PendingSave> pending_;  // Newest save per session.
  bool writing_ = false;
  bool stopping_ = false;
  int64_t serial_ = 0;
  std::thread writer_;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_RESUMPTION_RESUMPTION_H_
