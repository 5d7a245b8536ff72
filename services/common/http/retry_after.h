// A server's "come back later": HTTP's Retry-After header, and the same carried on an
// absl::Status (a payload) from the client that got it to the stage that decides on a retry.
#ifndef VOXFLOW_SERVICES_COMMON_HTTP_RETRY_AFTER_H_
#define VOXFLOW_SERVICES_COMMON_HTTP_RETRY_AFTER_H_

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace voxflow {

// The wait a Retry-After value asks for: delay-seconds ("3") or an HTTP-date ("Wed, 21 Oct 2015
// 07:28:00 GMT", counted from `now`; a date past is no wait). nullopt when it is neither.
std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now);

void SetRetryAfter(absl::Status& status, absl::Duration wait);
std::optional<absl::Duration> RetryAfter(const absl::Status& status);

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_HTTP_RETRY_AFTER_H_
