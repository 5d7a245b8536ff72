#include "services/orchestrator/client_tools.h"

#include <utility>

#include "services/orchestrator/session_requests.h"
#include "spdlog/spdlog.h"

namespace voxflow::orchestrator {

ClientTools::ClientTools(TimerQueue* timers, SessionEvents* events)
    : events_(events), calls_(timers) {}

void ClientTools::Call(int turn_id, const LlmToolCall& call, absl::Duration timeout,
                       const std::shared_ptr<CancellationToken>& cancel, LlmToolAnswerSink answer) {
  if (absl::Status s = calls_.Open(call.id); !s.ok()) {
    answer(LlmToolAnswer{"", std::string(s.message())});
    return;
  }
  spdlog::debug("turn {} calls tool {} ({})", turn_id, call.name, call.id);
  events_->Send(ToolCallEvent(turn_id, call));
  calls_.Await(call.id, timeout, cancel, std::move(answer));
}

absl::Status ClientTools::Answer(const v1::ToolResult& result) {
  absl::StatusOr<LlmToolAnswer> answer = ToolAnswer(result);
  if (!answer.ok()) return answer.status();
  if (absl::Status s = calls_.Answer(result.id(), *std::move(answer)); !s.ok()) {
    events_->Send(RecoverableErrorEvent(s));  // Late (after its timeout), not malformed: go on.
  }
  return absl::OkStatus();
}

}  // namespace voxflow::orchestrator
