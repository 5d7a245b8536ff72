// ClientTools: the bridge between the model's tool calls and the client that runs the tools.
// A call goes out as a ToolCall event and waits (bounded by its timeout, ended by its turn's
// cancellation) for the ToolResult request of the same id; a result that comes too late is told
// to the client as a recoverable error, and the conversation goes on.
//
// Thread-safe: calls come from llm stage threads, results from the stream's strand.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_CLIENT_TOOLS_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_CLIENT_TOOLS_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/common/cancellation.h"
#include "services/common/timer_queue.h"
#include "services/orchestrator/llm_client.h"
#include "services/orchestrator/session_events.h"
#include "services/orchestrator/tool_calls.h"
#include "voxflow/v1/orchestrator.pb.h"

namespace voxflow::orchestrator {

class ClientTools {
 public:
  // `events` outlives this.
  ClientTools(TimerQueue* timers, SessionEvents* events);

  // Sends `call` of turn `turn_id` to the client; `answer` gets its result, or why there is none
  // (a call of that id already waits, the timeout, the cancellation).
  void Call(int turn_id, const LlmToolCall& call, absl::Duration timeout,
            const std::shared_ptr<CancellationToken>& cancel, LlmToolAnswerSink answer);
  // The client's result: INVALID_ARGUMENT naming the field for a malformed one (the stream
  // ends); a late or unknown id is a recoverable ErrorEvent.
  absl::Status Answer(const v1::ToolResult& result);

 private:
  SessionEvents* const events_;
  ToolCalls calls_;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_CLIENT_TOOLS_H_
