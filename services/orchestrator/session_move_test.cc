#include "services/orchestrator/session_move.h"

#include "gtest/gtest.h"

namespace voxflow::orchestrator {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

TEST(SessionMoveTest, MovesAtTheNextTurnBoundary) {
  SessionMove move(/*client_follows=*/true, absl::Seconds(30));
  EXPECT_FALSE(move.Due(/*at_boundary=*/true, kT0)) << "not asked";
  ASSERT_TRUE(move.Request(kT0));
  EXPECT_FALSE(move.Due(/*at_boundary=*/false, kT0 + absl::Seconds(5)));
  EXPECT_TRUE(move.Due(/*at_boundary=*/true, kT0 + absl::Seconds(5)));
  EXPECT_FALSE(move.Forced(/*at_boundary=*/true, kT0 + absl::Seconds(5)));
  move.Moved();
  EXPECT_FALSE(move.Due(true, kT0 + absl::Seconds(6))) << "once";
}

TEST(SessionMoveTest, ACallerWhoNeverPausesMovesAtTheBound) {
  SessionMove move(true, absl::Seconds(30));
  ASSERT_TRUE(move.Request(kT0));
  ASSERT_TRUE(
      move.Request(kT0 + absl::Seconds(20)));  // Asked again: the bound runs from the first.
  EXPECT_FALSE(move.Due(false, kT0 + absl::Seconds(29)));
  EXPECT_TRUE(move.Due(false, kT0 + absl::Seconds(30)));
  EXPECT_TRUE(move.Forced(false, kT0 + absl::Seconds(30)));
}

TEST(SessionMoveTest, AClientThatDoesNotFollowMovesIsNotMoved) {
  SessionMove move(false, absl::Seconds(30));
  EXPECT_FALSE(move.Request(kT0));
  EXPECT_FALSE(move.Due(true, kT0 + absl::Hours(1)));
}

TEST(SessionMoveTest, CountsTheAudioUsedUntilTheMove) {
  SessionMove move(true, absl::Seconds(30));
  EXPECT_TRUE(move.TakeAudio(640));
  EXPECT_TRUE(move.TakeAudio(320));
  ASSERT_TRUE(move.Request(kT0));
  EXPECT_TRUE(move.TakeAudio(320)) << "used until the move itself";
  move.Moved();
  EXPECT_FALSE(move.TakeAudio(640));
  EXPECT_EQ(move.audio_bytes_used(), 1280);
}

}  // namespace
}  // namespace voxflow::orchestrator
