// The tools a reply may call: declared by the pipeline (llm parameter "tools", a JSON array of
// {"name", "description", "parameters"}) and by the session (SessionConfig.llm.tools), checked
// once where they are declared so that a bad schema fails the config, not a turn.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_LLM_TOOL_DECLARATIONS_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_LLM_TOOL_DECLARATIONS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/orchestrator/llm_client.h"
#include "voxflow/v1/orchestrator.pb.h"

namespace voxflow::orchestrator {

inline constexpr int kMaxTools = 32;

// INVALID_ARGUMENT naming `field` (e.g. "config.llm.tools[2]") for a name that is not
// [A-Za-z0-9_-]{1,64}, a description over 1024 bytes, or parameters that are not a JSON object.
absl::Status CheckTool(const LlmTool& tool, absl::string_view field);

// The pipeline's tools (parameter "tools"), then the session's; a session tool of the same name
// replaces the pipeline's. INVALID_ARGUMENT naming the parameter or field.
absl::StatusOr<std::vector<LlmTool>> DeclaredTools(
    const std::map<std::string, std::string>& parameters, const v1::LlmSettings& session);

// Whether `text` is one JSON value (a tool's answer).
bool IsJson(absl::string_view text);

// How long a tool call waits for the caller: the session's tool_timeout_ms, else the parameter
// "tool_timeout_ms" (default 10000; 100..120000).
absl::StatusOr<absl::Duration> ToolTimeout(const std::map<std::string, std::string>& parameters,
                                           const v1::LlmSettings& session);

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_LLM_TOOL_DECLARATIONS_H_
