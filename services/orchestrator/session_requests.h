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

// Whether `request` may come now: something set; a config first, and only once (`configured`:
// one came).
absl::Status CheckRequestOrder(const v1::ConverseRequest& request, bool configured);
// END_OF_INPUT or INTERRUPT.
absl::Status CheckControl(const v1::Control& control);

// The typed text, trimmed: non-empty UTF-8 of at most 10000 bytes.
absl::StatusOr<std::string> TypedText(const v1::TextInput& text);
absl::Status CheckPlayback(const v1::PlaybackProgress& playback);
absl::Status CheckDtmf(const v1::Dtmf& dtmf);
// What the model is told of keys the caller pressed (checked with CheckDtmf).
std::string DtmfText(const v1::Dtmf& dtmf);
// The caller's answer to a tool call: its id and content checked.
absl::StatusOr<LlmToolAnswer> ToolAnswer(const v1::ToolResult& result);

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_SESSION_REQUESTS_H_
