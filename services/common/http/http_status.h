// What an HTTP exchange's outcome means as an absl::Status, the same for every client of an
// OpenAI-compatible server: the endpoint is named, the server's error body is quoted and cut,
// the key is never part of it.
//   UNAVAILABLE        connection refused or reset, HTTP 5xx, a body cut short;
//   UNAUTHENTICATED    401; PERMISSION_DENIED 403; NOT_FOUND 404; INVALID_ARGUMENT other 4xx;
//   RESOURCE_EXHAUSTED 429 (its Retry-After also as RetryAfter(status));
//   DEADLINE_EXCEEDED  the request's timeout.
#ifndef VOXFLOW_SERVICES_COMMON_HTTP_HTTP_STATUS_H_
#define VOXFLOW_SERVICES_COMMON_HTTP_HTTP_STATUS_H_

#include <curl/curl.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace voxflow {

// An HTTP status of 300 or more. `retry_after` is the response's Retry-After header ("" if none).
absl::Status HttpStatusError(long http, absl::string_view endpoint, absl::string_view error_body,
                             absl::string_view retry_after, absl::Time now);

// A libcurl transfer that did not complete (not CURLE_OK, not aborted).
absl::Status CurlResultError(CURLcode result, absl::string_view endpoint, absl::Duration timeout);

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_HTTP_HTTP_STATUS_H_
