// RedisMemory: conversation memory in Redis, shared by every orchestrator replica, so a session
// resumed on another replica remembers what was said. One sorted set per session (score: the
// turn id, so a re-recorded turn replaces its exchange), trimmed to the newest exchanges and
// expiring `ttl` after the last write.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_REDIS_MEMORY_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_REDIS_MEMORY_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "services/common/redis/redis_client.h"
#include "services/orchestrator/conversation_memory.h"

namespace voxflow::orchestrator {

class RedisMemory final : public ConversationMemory {
 public:
  RedisMemory(RedisClient* redis, absl::Duration ttl, size_t max_exchanges_per_session = 100)
      : redis_(redis), ttl_(ttl), max_exchanges_(max_exchanges_per_session) {}

  absl::StatusOr<std::vector<Exchange>> Fetch(absl::string_view session_id,
                                              size_t max_exchanges) override;
  absl::Status Record(absl::string_view session_id, Exchange exchange) override;
  void Forget(absl::string_view session_id) override;
  // Nothing is kept in process: the store keeps the session for its next replica.
  void Unload(absl::string_view /*session_id*/) override {}

  static std::string Key(absl::string_view session_id);

 private:
  RedisClient* const redis_;
  const absl::Duration ttl_;
  const size_t max_exchanges_;
};

// An exchange as stored (JSON), and back; INTERNAL for what is not one.
std::string ExchangeToJson(const Exchange& exchange);
absl::StatusOr<Exchange> ExchangeFromJson(absl::string_view json);

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_REDIS_MEMORY_H_
