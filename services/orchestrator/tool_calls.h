// ToolCalls: the tool calls of a session waiting for the caller's ToolResult. Nothing waits on a
// thread: the answer, the call's timeout (a TimerQueue timer) or a cancel delivers it to the
// llm stage's sink. An answer that comes after its call timed out or was cancelled finds nothing.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_TOOL_CALLS_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_TOOL_CALLS_H_

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/common/cancellation.h"
#include "services/common/timer_queue.h"
#include "services/orchestrator/llm_client.h"

namespace voxflow::orchestrator {

class ToolCalls {
 public:
  explicit ToolCalls(TimerQueue* timers = &TimerQueue::Default()) : timers_(timers) {}
  ~ToolCalls();  // Drops the calls still waiting (their sinks are not called).

  // Registers call `id` before it is sent; ALREADY_EXISTS when a call of that id waits.
  absl::Status Open(const std::string& id);
  // Delivers the answer to `id` (opened) to `sink`, once: the caller's answer; an error answer
  // naming `timeout` when none came in time; "cancelled" once `cancel` fired. Then forgets it.
  void Await(const std::string& id, absl::Duration timeout,
             const std::shared_ptr<CancellationToken>& cancel, LlmToolAnswerSink sink);
  // The caller's answer; NOT_FOUND when no call `id` waits (never made, answered, timed out).
  absl::Status Answer(const std::string& id, LlmToolAnswer answer);

 private:
  struct Call {
    std::optional<LlmToolAnswer> answer;  // Came before Await.
    LlmToolAnswerSink sink;
    int64_t timer = 0;
    std::shared_ptr<CancellationToken> cancel;
    int64_t cancel_callback = -1;
  };
  // Ends call `id` with `answer` if it still waits. `from_cancel`: inside its cancel callback.
  void Deliver(const std::string& id, LlmToolAnswer answer, bool from_cancel);

  TimerQueue* const timers_;
  std::mutex mu_;
  std::map<std::string, Call> calls_;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_TOOL_CALLS_H_
