// When a request to a remote speech provider is worth trying again, and after how long: a 429
// waits what its Retry-After asks (within the budget), a 5xx, a refused connection or a timeout
// is tried again after a short backoff, an answer that will not change (401, 403, 4xx) is not.
// Beyond the budget the provider has failed, and the next one in the chain serves the caller.
#ifndef VOXFLOW_SERVICES_COMMON_PROVIDERS_RETRY_POLICY_H_
#define VOXFLOW_SERVICES_COMMON_PROVIDERS_RETRY_POLICY_H_

#include <optional>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace voxflow {

struct RetryPolicy {
  int max_retries = 1;
  // All the waiting a request may do before its provider counts as failed: a caller is waiting.
  absl::Duration budget = absl::Milliseconds(1500);
  absl::Duration backoff = absl::Milliseconds(100);  // Doubles per retry.
};

// The wait before retry number `retry` (1 for the first) after `failure`, having waited
// `waited` so far; nullopt when the failure is final.
std::optional<absl::Duration> RetryDelay(const RetryPolicy& policy, const absl::Status& failure,
                                         int retry, absl::Duration waited);

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_PROVIDERS_RETRY_POLICY_H_
