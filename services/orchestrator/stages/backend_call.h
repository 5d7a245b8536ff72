// What the stages that call a speech backend share: how a backend's status reads to the caller,
// the call's deadline and conversation tags, and whether an unfinished attempt is retried.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_BACKEND_CALL_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_BACKEND_CALL_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "services/common/backend.h"
#include "services/orchestrator/pipeline/stage.h"

namespace voxflow::orchestrator {

// True for gRPC codes worth another attempt against a backend.
bool IsRetryable(absl::StatusCode code);

// The backend's status, naming it ("stt backend HOST:PORT: ...").
absl::Status FromGrpc(const grpc::Status& status, const Backend& backend);

// Names the session and turn of the calling thread's LogContext to the backend, whose log lines
// then carry them too.
void TagWithConversation(grpc::ClientContext& call);

// The backend call's deadline: past the attempt's, so that the stage's own timeout (which
// cancels the call) is what ends a slow attempt, reported as the stage timing out, not as a
// backend error racing it.
absl::Time CallDeadline(const StageContext& context);

// UNAVAILABLE: `backend` was not reachable within its connect timeout.
absl::Status NotReachable(const Backend& backend);

// Ends an attempt that did not finish: RETRY for transient backend errors, FAIL otherwise.
StageResult Unfinished(const absl::Status& status);

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_BACKEND_CALL_H_
