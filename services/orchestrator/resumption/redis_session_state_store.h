// RedisSessionStateStore: session records in Redis, one hash per session expiring `ttl` after its
// last write, each change one Lua script (atomic: two replicas racing to take a session over
// cannot both own it). A takeover is published on kTakeOverChannel ("<id>\n<new owner>") so that
// the replica serving the session ends its stream at once.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_RESUMPTION_REDIS_SESSION_STATE_STORE_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_RESUMPTION_REDIS_SESSION_STATE_STORE_H_

#include <string>

#include "absl/time/time.h"
#include "services/common/redis/redis_client.h"
#include "services/orchestrator/resumption/session_state_store.h"

namespace voxflow::orchestrator {

class RedisSessionStateStore final : public SessionStateStore {
 public:
  static constexpr char kTakeOverChannel[] = "voxflow:takeover";

  RedisSessionStateStore(RedisClient* redis, absl::Duration ttl) : redis_(redis), ttl_(ttl) {}

  absl::Status Create(const std::string& id, const std::string& owner) override;
  absl::StatusOr<SessionRecord> TakeOver(const std::string& id, const std::string& owner) override;
  absl::Status Save(const std::string& id, const std::string& owner,
                    const SessionRecord& counters) override;
  absl::Status Restore(const std::string& id, const SessionRecord& record) override;
  void Forget(const std::string& id, const std::string& owner) override;

  static std::string Key(const std::string& id) { return "voxflow:session:" + id; }

 private:
  std::string TtlMs() const;

  RedisClient* const redis_;
  const absl::Duration ttl_;
};

// A takeover message, and back; false for what is not one.
std::string TakeOverMessage(const std::string& id, const std::string& owner);
bool ParseTakeOverMessage(const std::string& message, std::string* id, std::string* owner);

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_RESUMPTION_REDIS_SESSION_STATE_STORE_H_
