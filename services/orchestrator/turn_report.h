// What a finished turn tells the caller: an ErrorEvent per failed stage and the TurnCompleted
// (transcript, reply as heard, degradations, latency breakdown).
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_TURN_REPORT_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_TURN_REPORT_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "services/orchestrator/turn.h"
#include "voxflow/v1/orchestrator.pb.h"

namespace voxflow::orchestrator {

// One ErrorEvent per stage of `turn` that failed, or worked around a failure (recoverable: the
// session goes on).
std::vector<v1::ConverseEvent> StageErrors(const Turn& turn);

// The TurnCompleted of `turn`, finished at `now`; `reply` is what the caller heard. Its
// degradations list every stage that failed.
v1::TurnCompleted TurnReport(const Turn& turn, const std::string& reply, absl::Time now);

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_TURN_REPORT_H_
