// How a turn's DAG is set up: its stage factories (the server's stage types over its backends,
// or a test's fakes), each holding the turn for as long as its stages live; and the run's
// options: stt starts at once, the stages after it are held until the turn reaches the front of
// the session's queue.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_TURN_RUN_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_TURN_RUN_H_

#include <memory>
#include <string>

#include "services/common/cancellation.h"
#include "services/orchestrator/pipeline/dag_runner.h"
#include "services/orchestrator/session_services.h"
#include "services/orchestrator/turn.h"

namespace voxflow::orchestrator {

StageFactories TurnStageFactories(const SessionServices& services,
                                  const std::shared_ptr<Turn>& turn);

// The options of turn `turn_id`'s run in session `session_id`, cancelled with `parent` (the
// session's token); on_event and on_done are the caller's to set.
DagRunOptions TurnRunOptions(const SessionServices& services, const std::string& session_id,
                             int turn_id, std::shared_ptr<CancellationToken> parent);

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_TURN_RUN_H_
