#include "services/common/stream_limit.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace voxflow {
namespace {

using ::testing::HasSubstr;

TEST(StreamLimitTest, RefusesPastTheTotal) {
  StreamLimit limit(2, 0, "stream_limit_test_total");
  EXPECT_TRUE(limit.Admit("a").ok());
  EXPECT_TRUE(limit.Admit("b").ok());
  absl::Status third = limit.Admit("c");
  EXPECT_EQ(third.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(third.message(), HasSubstr("limit 2"));
  limit.Release("c");
  limit.Release("a");
  EXPECT_TRUE(limit.Admit("c").ok());
  EXPECT_EQ(limit.active(), 2);
}

TEST(StreamLimitTest, OneClientCannotTakeEverySlot) {
  StreamLimit limit(10, 2, "stream_limit_test_per_client");
  EXPECT_TRUE(limit.Admit("ipv4:10.0.0.1").ok());
  EXPECT_TRUE(limit.Admit("ipv4:10.0.0.1").ok());
  absl::Status third = limit.Admit("ipv4:10.0.0.1");
  EXPECT_EQ(third.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(third.message(), HasSubstr("per client"));
  // Others still get in.
  EXPECT_TRUE(limit.Admit("ipv4:10.0.0.2").ok());
  // The refused stream and one admitted one end: the client may open one again.
  limit.Release("ipv4:10.0.0.1");
  limit.Release("ipv4:10.0.0.1");
  EXPECT_TRUE(limit.Admit("ipv4:10.0.0.1").ok());
}

TEST(StreamLimitTest, ZeroMeansNoPerClientLimit) {
  StreamLimit limit(100, 0, "stream_limit_test_unlimited");
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(limit.Admit("same").ok());
  EXPECT_FALSE(limit.Admit("same").ok());
}

}  // namespace
}  // namespace voxflow
