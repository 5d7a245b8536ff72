#include "services/common/http/http_status.h"

#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "services/common/http/retry_after.h"
#include "services/common/logging.h"

namespace voxflow {

absl::Status HttpStatusError(long http, absl::string_view endpoint, absl::string_view error_body,
                             absl::string_view retry_after, absl::Time now) {
  const std::string what =
      absl::StrCat(endpoint, " answered HTTP ", http, ": ", QuoteClientValue(error_body, 200));
  switch (http) {
    case 401:
      return absl::UnauthenticatedError(what);
    case 403:
      return absl::PermissionDeniedError(what);
    case 404:
      return absl::NotFoundError(what);
    case 429: {
      absl::Status status = absl::ResourceExhaustedError(absl::StrCat(
          what,
          retry_after.empty()
              ? ""
              : absl::StrCat(" (Retry-After: ", absl::CEscape(retry_after.substr(0, 40)), ")")));
      if (std::optional<absl::Duration> wait = ParseRetryAfter(retry_after, now)) {
        SetRetryAfter(status, *wait);
      }
      return status;
    }
    default:
      return http >= 500 ? absl::UnavailableError(what) : absl::InvalidArgumentError(what);
  }
}

absl::Status CurlResultError(CURLcode result, absl::string_view endpoint, absl::Duration timeout) {
  if (result == CURLE_OPERATION_TIMEDOUT) {
    return absl::DeadlineExceededError(
        absl::StrCat(endpoint, " did not finish within ", absl::FormatDuration(timeout)));
  }
  if (result == CURLE_PARTIAL_FILE || result == CURLE_RECV_ERROR || result == CURLE_GOT_NOTHING) {
    // Connected, but the answer broke off: a server that crashed or dropped the connection.
    return absl::UnavailableError(
        absl::StrCat(endpoint, " cut its answer short: ", curl_easy_strerror(result)));
  }
  return absl::UnavailableError(
      absl::StrCat("cannot reach ", endpoint, ": ", curl_easy_strerror(result)));
}

}  // namespace voxflow
