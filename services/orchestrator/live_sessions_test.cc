#include "services/orchestrator/live_sessions.h"

#include <memory>

#include "gtest/gtest.h"

namespace voxflow::orchestrator {
namespace {

// Counts what it was asked.
class FakeLiveSession final : public LiveSession {
 public:
  void EndTakenOver() override { ++ended; }
  void MoveAway() override { ++moved; }
  int ended = 0;
  int moved = 0;
};

TEST(LiveSessionsTest, AnIdBelongsToOneLiveConversation) {
  LiveSessions live;
  auto session = std::make_shared<FakeLiveSession>();
  absl::StatusOr<std::string> first = ClaimSessionId(&live, "call-1", "a/1", session);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, "call-1");
  absl::StatusOr<std::string> again = ClaimSessionId(&live, "call-1", "a/2", session);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(again.status().message().find("config.session_id"), std::string::npos);
  live.Release("call-1", "a/2");  // Not its owner: nothing.
  EXPECT_EQ(live.size(), 1u);
  live.Release("call-1", "a/1");
  EXPECT_TRUE(ClaimSessionId(&live, "call-1", "a/3", session).ok());
}

TEST(LiveSessionsTest, AnEmptyIdGetsANewOneClaimed) {
  LiveSessions live;
  absl::StatusOr<std::string> a = ClaimSessionId(&live, "", "a/1", {});
  absl::StatusOr<std::string> b = ClaimSessionId(&live, "", "a/2", {});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->rfind("s-", 0), 0u) << *a;
  EXPECT_NE(*a, *b);
  EXPECT_EQ(live.size(), 2u);
  // Untracked: the id as given, or a new one.
  EXPECT_EQ(*ClaimSessionId(nullptr, "x", "a/3", {}), "x");
  EXPECT_FALSE(ClaimSessionId(nullptr, "", "a/4", {})->empty());
}

TEST(LiveSessionsTest, ATakeOverEndsTheStreamThatHadTheSessionAndKeepsItsClaimForTheNewOne) {
  LiveSessions live;
  auto old_stream = std::make_shared<FakeLiveSession>();
  auto new_stream = std::make_shared<FakeLiveSession>();
  ASSERT_TRUE(live.Claim("s", "a/1", old_stream));
  live.TakeOver("s", "a/2", new_stream);
  EXPECT_EQ(old_stream->ended, 1);
  live.Release("s", "a/1");  // The old stream's end does not release the new one's claim.
  EXPECT_FALSE(live.Claim("s", "a/3", {}));

  // Taken over on another replica: ended here, unless the new owner is this stream.
  live.EndUnlessOwnedBy("s", "a/2");
  EXPECT_EQ(new_stream->ended, 0);
  live.EndUnlessOwnedBy("s", "b/1");
  EXPECT_EQ(new_stream->ended, 1);
  EXPECT_EQ(live.size(), 0u);
}

TEST(LiveSessionsTest, MovesEveryLiveSession) {
  LiveSessions live;
  auto a = std::make_shared<FakeLiveSession>();
  auto b = std::make_shared<FakeLiveSession>();
  ASSERT_TRUE(live.Claim("a", "x/1", a));
  ASSERT_TRUE(live.Claim("b", "x/2", b));
  ASSERT_TRUE(live.Claim("gone", "x/3", std::make_shared<FakeLiveSession>()));  // Expired.
  live.MoveAll();
  EXPECT_EQ(a->moved, 1);
  EXPECT_EQ(b->moved, 1);
}

}  // namespace
}  // namespace voxflow::orchestrator
