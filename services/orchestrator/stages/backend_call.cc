#include "services/orchestrator/stages/backend_call.h"

#include "absl/strings/str_cat.h"
#include "services/common/logging.h"
#include "services/common/stream_reactor.h"

namespace voxflow::orchestrator {

bool IsRetryable(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kResourceExhausted ||
         code == absl::StatusCode::kAborted;
}

absl::Status FromGrpc(const grpc::Status& status, const Backend& backend) {
  return absl::Status(
      static_cast<absl::StatusCode>(status.error_code()),
      absl::StrCat(backend.name(), " backend ", backend.target(), ": ", status.error_message()));
}

void TagWithConversation(grpc::ClientContext& call) {
  const LogContext& log = CurrentLogContext();
  if (log.session_id.empty()) return;
  call.AddMetadata(kSessionIdMetadata, log.session_id);
  call.AddMetadata(kTurnIdMetadata, absl::StrCat(log.turn_id));
}

absl::Time CallDeadline(const StageContext& context) {
  return context.deadline() + absl::Seconds(1);
}

absl::Status NotReachable(const Backend& backend) {
  return absl::UnavailableError(
      absl::StrCat(backend.name(), " backend ", backend.target(), " is not reachable (waited ",
                   absl::ToInt64Milliseconds(backend.connect_timeout()), " ms)"));
}

StageResult Unfinished(const absl::Status& status) {
  return IsRetryable(status.code()) ? StageResult::Retry(status) : StageResult::Fail(status);
}

}  // namespace voxflow::orchestrator
