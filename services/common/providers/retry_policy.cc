#include "services/common/providers/retry_policy.h"

#include "services/common/http/retry_after.h"

namespace voxflow {

std::optional<absl::Duration> RetryDelay(const RetryPolicy& policy, const absl::Status& failure,
                                         int retry, absl::Duration waited) {
  if (retry > policy.max_retries) return std::nullopt;
  absl::Duration wait;
  switch (failure.code()) {
    case absl::StatusCode::kResourceExhausted:
      wait = RetryAfter(failure).value_or(policy.backoff * (1 << (retry - 1)));
      break;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      wait = policy.backoff * (1 << (retry - 1));
      break;
    default:
      return std::nullopt;
  }
  if (waited + wait > policy.budget) return std::nullopt;
  return wait;
}

}  // namespace voxflow
