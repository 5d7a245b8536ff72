// FallbackMemory: conversation memory kept in a shared store (Redis) and, always, in process. The
// in-process copy serves while the store is down, so a store outage never fails a call (a warning,
// once per outage); the sessions written during an outage are written to the store again, whole,
// once it answers.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_FALLBACK_MEMORY_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_FALLBACK_MEMORY_H_

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "services/common/redis/store_outage.h"
#include "services/orchestrator/conversation_memory.h"

namespace voxflow::orchestrator {

class FallbackMemory final : public ConversationMemory {
 public:
  // `outage` (shared with the store's other users; null: none) hears of each answer: it warns
  // once when the store fails and once when it is back.
  FallbackMemory(std::unique_ptr<ConversationMemory> shared, StoreOutage* outage,
                 size_t max_exchanges_per_session = 100);

  // From the store; from the in-process copy when the store fails or misses this session's
  // latest writes.
  absl::StatusOr<std::vector<Exchange>> Fetch(absl::string_view session_id,
                                              size_t max_exchanges) override;
  // In process, then in the store; OK even when the store fails.
  absl::Status Record(absl::string_view session_id, Exchange exchange) override;
  void Forget(absl::string_view session_id) override;
  // Drops the in-process copy; the store keeps the session (writes it missed are lost).
  void Unload(absl::string_view session_id) override;

  // Whether the last call to the store failed.
  bool store_down() const;

 private:
  // Notes the store's answer; true when it is OK.
  bool Noted(const absl::Status& status);
  // Writes the session's in-process exchanges to the store again; true when it took them all.
  bool Resync(absl::string_view session_id);

  const std::unique_ptr<ConversationMemory> shared_;
  StoreOutage* const outage_;
  const size_t max_exchanges_;
  InProcessMemory local_;
  mutable std::mutex mu_;
  std::set<std::string, std::less<>> unsynced_;  // Sessions with writes the store missed.
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_FALLBACK_MEMORY_H_
