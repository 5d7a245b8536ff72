#include "services/common/http/retry_after.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"

namespace voxflow {
namespace {

constexpr absl::string_view kPayload = "type.voxflow.dev/retry-after-ms";

}  // namespace

std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now) {
  value = absl::StripAsciiWhitespace(value);
  if (value.empty()) return std::nullopt;
  int64_t seconds = 0;
  if (absl::SimpleAtoi(value, &seconds)) {
    if (seconds < 0) return std::nullopt;
    return absl::Seconds(std::min<int64_t>(seconds, 24 * 3600));
  }
  absl::Time when;
  std::string error;
  if (absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", std::string(value), absl::UTCTimeZone(), &when,
                      &error)) {
    return std::max(when - now, absl::ZeroDuration());
  }
  return std::nullopt;
}

void SetRetryAfter(absl::Status& status, absl::Duration wait) {
  status.SetPayload(kPayload, absl::Cord(std::to_string(absl::ToInt64Milliseconds(wait))));
}

std::optional<absl::Duration> RetryAfter(const absl::Status& status) {
  auto payload = status.GetPayload(kPayload);
  int64_t ms = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &ms)) return std::nullopt;
  return absl::Milliseconds(ms);
}

}  // namespace voxflow
