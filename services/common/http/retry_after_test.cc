#include "services/common/http/retry_after.h"

#include "gtest/gtest.h"

namespace voxflow {
namespace {

TEST(RetryAfterTest, SecondsOrAnHttpDate) {
  const absl::Time now = absl::FromUnixSeconds(1445412480);  // Wed, 21 Oct 2015 07:28:00 GMT.
  EXPECT_EQ(ParseRetryAfter("3", now), absl::Seconds(3));
  EXPECT_EQ(ParseRetryAfter(" 0 ", now), absl::ZeroDuration());
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:05 GMT", now), absl::Seconds(5));
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:27:00 GMT", now), absl::ZeroDuration());
  EXPECT_EQ(ParseRetryAfter("soon", now), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("-1", now), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("", now), std::nullopt);
}

TEST(RetryAfterTest, TravelsOnAStatus) {
  absl::Status status = absl::ResourceExhaustedError("429");
  EXPECT_EQ(RetryAfter(status), std::nullopt);
  SetRetryAfter(status, absl::Milliseconds(1500));
  EXPECT_EQ(RetryAfter(status), absl::Milliseconds(1500));
}

}  // namespace
}  // namespace voxflow
