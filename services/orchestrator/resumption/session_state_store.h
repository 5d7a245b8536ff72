// SessionStateStore: the resumable part of a session between two turns, kept where another
// replica can read it: which turns it started and completed, and which stream owns it. The
// in-process store keeps it for this replica; RedisSessionStateStore shares it.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_RESUMPTION_SESSION_STATE_STORE_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_RESUMPTION_SESSION_STATE_STORE_H_

#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"

namespace voxflow::orchestrator {

struct SessionRecord {
  int last_turn_started = 0;    // Turn ids used so far.
  int last_turn_completed = 0;  // The conversation goes on from here.
  std::string owner;            // The stream serving it (a replica's id and a serial).
  bool operator==(const SessionRecord&) const = default;
};

// Raises each of `record`'s turn counters to `counters`' (saves may arrive out of order; the
// counters only grow).
void RaiseTurnCounters(SessionRecord& record, const SessionRecord& counters);

class SessionStateStore {
 public:
  virtual ~SessionStateStore() = default;
  // A new session `id` owned by `owner`. ALREADY_EXISTS while a record for `id` is kept.
  virtual absl::Status Create(const std::string& id, const std::string& owner) = 0;
  // `owner` takes session `id` over; the record as it was. NOT_FOUND when there is none (the
  // session ended or expired).
  virtual absl::StatusOr<SessionRecord> TakeOver(const std::string& id,
                                                 const std::string& owner) = 0;
  // The session's turn counters (each only grows), while `owner` owns it. ABORTED when another
  // stream took it over; NOT_FOUND when the record is gone (a store that lost its data).
  virtual absl::Status Save(const std::string& id, const std::string& owner,
                            const SessionRecord& counters) = 0;
  // Writes the whole record again (after NOT_FOUND from Save).
  virtual absl::Status Restore(const std::string& id, const SessionRecord& record) = 0;
  // The session ended for good: its record goes, if `owner` still owns it.
  virtual void Forget(const std::string& id, const std::string& owner) = 0;
};

class InProcessSessionStateStore final : public SessionStateStore {
 public:
  absl::Status Create(const std::string& id, const std::string& owner) override;
  absl::StatusOr<SessionRecord> TakeOver(const std::string& id, const std::string& owner) override;
  absl::Status Save(const std::string& id, const std::string& owner,
                    const SessionRecord& counters) override;
  absl::Status Restore(const std::string& id, const SessionRecord& record) override;
  void Forget(const std::string& id, const std::string& owner) override;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, SessionRecord> records_;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_RESUMPTION_SESSION_STATE_STORE_H_
