// Per-session conversation history behind an interface (the memory_fetch / memory_write stages).
// The built-in store is in-process; a shared store (Redis, a database) would implement the same.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_CONVERSATION_MEMORY_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_CONVERSATION_MEMORY_H_

#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace voxflow::orchestrator {

// One user turn and the reply to it (only the part the user heard, after a barge-in).
struct Exchange {
  int turn_id = 0;
  std::string user;
  std::string reply;
  bool interrupted = false;
  bool operator==(const Exchange&) const = default;
};

class ConversationMemory {
 public:
  virtual ~ConversationMemory() = default;
  // The last `max_exchanges` exchanges of the session, oldest first.
  virtual absl::StatusOr<std::vector<Exchange>> Fetch(absl::string_view session_id,
                                                      size_t max_exchanges) = 0;
  // Adds an exchange, or replaces the one with the same turn_id.
  virtual absl::Status Record(absl::string_view session_id, Exchange exchange) = 0;
  virtual void Forget(absl::string_view session_id) = 0;
  // The session left this replica but may resume elsewhere: what this replica keeps of it goes;
  // a shared store keeps it.
  virtual void Unload(absl::string_view session_id) { Forget(session_id); }
};

class InProcessMemory final : public ConversationMemory {
 public:
  explicit InProcessMemory(size_t max_exchanges_per_session = 100)
      : max_exchanges_(max_exchanges_per_session) {}
  absl::StatusOr<std::vector<Exchange>> Fetch(absl::string_view session_id,
                                              size_t max_exchanges) override;
  absl::Status Record(absl::string_view session_id, Exchange exchange) override;
  void Forget(absl::string_view session_id) override;

 private:
  const size_t max_exchanges_;
  std::mutex mu_;
  std::map<std::string, std::deque<Exchange>, std::less<>> sessions_;
};

// History as stage output text ("user: ...\nassistant: ...\n"), and back.
std::string FormatHistory(const std::vector<Exchange>& exchanges);
std::vector<Exchange> ParseHistory(absl::string_view text);

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_CONVERSATION_MEMORY_H_
