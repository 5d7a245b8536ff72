#include "services/orchestrator/live_sessions.h"

#include "gtest/gtest.h"

namespace voxflow::orchestrator {
namespace {

TEST(LiveSessionsTest, AnIdBelongsToOneLiveConversation) {
  LiveSessions live;
  absl::StatusOr<std::string> first = ClaimSessionId(&live, "call-1");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, "call-1");
  absl::StatusOr<std::string> again = ClaimSessionId(&live, "call-1");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(again.status().message().find("config.session_id"), std::string::npos);
  live.Release("call-1");
  EXPECT_TRUE(ClaimSessionId(&live, "call-1").ok());
}

TEST(LiveSessionsTest, AnEmptyIdGetsANewOneClaimed) {
  LiveSessions live;
  absl::StatusOr<std::string> a = ClaimSessionId(&live, "");
  absl::StatusOr<std::string> b = ClaimSessionId(&live, "");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->rfind("s-", 0), 0u) << *a;
  EXPECT_NE(*a, *b);
  EXPECT_EQ(live.size(), 2u);
  // Untracked: the id as given, or a new one.
  EXPECT_EQ(*ClaimSessionId(nullptr, "x"), "x");
  EXPECT_FALSE(ClaimSessionId(nullptr, "")->empty());
}

}  // namespace
}  // namespace voxflow::orchestrator
