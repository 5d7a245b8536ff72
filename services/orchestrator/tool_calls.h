// ToolCalls: the tool calls of a session waiting for the caller's ToolResult. The llm stage's
// thread waits in Wait (the stage contract blocks a thread today); the stream's request handler
// answers. An answer that comes after its call timed out or was cancelled finds nothing.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_TOOL_CALLS_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_TOOL_CALLS_H_

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/common/cancellation.h"
#include "services/orchestrator/llm_client.h"

namespace voxflow::orchestrator {

class ToolCalls {
 public:
  // Registers call `id` before it is sent; ALREADY_EXISTS when a call of that id waits.
  absl::Status Open(const std::string& id);
  // Waits for the answer to `id` (opened), then forgets it: the answer; an error answer naming
  // `timeout` when none came in time; nullopt once `cancel` fired.
  std::optional<LlmToolAnswer> Wait(const std::string& id, absl::Duration timeout,
                                    const CancellationToken& cancel);
  // The caller's answer; NOT_FOUND when no call `id` waits (never made, answered, timed out).
  absl::Status Answer(const std::string& id, LlmToolAnswer answer);

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::map<std::string, std::optional<LlmToolAnswer>> waiting_;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_TOOL_CALLS_H_
