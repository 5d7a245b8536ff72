// What each request of a Converse stream must hold, checked before the session acts on it: a
// precise INVALID_ARGUMENT naming the field otherwise. No session state is read or changed here.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_SESSION_REQUESTS_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_SESSION_REQUESTS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/orchestrator/llm_client.h"
#include "voxflow/v1/orchestrator.pb.h"

namespace voxflow::orchestrator {

// The field a request sets ("audio", "text", ...), for the errors that name it.
const char* RequestName(const v1::ConverseRequest& request);

// The typed text, trimmed: non-empty UTF-8 of at most 10000 bytes.
absl::StatusOr<std::string> TypedText(const v1::TextInput& text);
absl::Status CheckPlayback(const v1::PlaybackProgress& playback);
absl::Status CheckDtmf(const v1::Dtmf& dtmf);
// The caller's answer to a tool call: its id and content checked.
absl::StatusOr<LlmToolAnswer> ToolAnswer(const v1::ToolResult& result);

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_SESSION_REQUESTS_H_
