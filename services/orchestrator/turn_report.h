// What a finished turn tells the caller: an ErrorEvent per failed stage and the TurnCompleted
// (transcript, reply as heard, degradations, latency breakdown); and what completing it changes
// beyond the caller: memory keeps the reply as heard, the metrics count the turn.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_TURN_REPORT_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_TURN_REPORT_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "services/orchestrator/conversation_memory.h"
#include "services/orchestrator/pipeline/pipeline_graph.h"
#include "services/orchestrator/turn.h"
#include "voxflow/v1/orchestrator.pb.h"

namespace voxflow::orchestrator {

// One ErrorEvent per stage of `turn` that failed, or worked around a failure (recoverable: the
// session goes on).
std::vector<v1::ConverseEvent> StageErrors(const Turn& turn);

// The TurnCompleted of `turn`, finished at `now`; `reply` is what the caller heard. Its
// degradations list every stage that failed.
v1::TurnCompleted TurnReport(const Turn& turn, const std::string& reply, absl::Time now);

// Completing a turn of session `session_id` (its stages from `pipeline`) at `now`: the events
// for the caller, in order (the stage errors, then TurnCompleted). Sound without words (noise,
// a cough, silence at END_OF_INPUT) or words that were the reply's own echo is `discarded`: no
// turn to answer, no events but turn.discarded, which says why (`discarded_why`). A reply cut
// short (barge-in, or its tts failing mid-reply) is reported, and kept in `memory`, as heard.
// The turn is logged (its sizes and latency; what was said at debug only).
struct CompletedTurn {
  bool discarded = false;
  std::string discarded_why;
  std::vector<v1::ConverseEvent> events;
  std::string transcript;
  std::string reply;  // As heard.
};
CompletedTurn CompleteTurn(const Turn& turn, const PipelineGraph& pipeline,
                           const std::string& session_id, ConversationMemory& memory,
                           absl::Time now);

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_TURN_REPORT_H_
