#include "services/orchestrator/reply_playout.h"

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "services/common/audio_chunk.h"
#include "services/orchestrator/testing/test_playout.h"

namespace voxflow::orchestrator {
namespace {

using testing::ReplyAudio;

// Room for 1 s of reply audio.
std::unique_ptr<ReplyPlayout> MakePlayout() { return testing::MakeTestPlayout(1000); }

TEST(ReplyPlayoutTest, SendsTheLeadAtOnceThenFollowsRealTime) {
  auto playout = MakePlayout();
  Turn turn({}, "s", nullptr, 1, std::nullopt, nullptr);
  ASSERT_TRUE(playout->Push(ReplyAudio(200)).ok());
  turn.heard.Take("hello", 200);
  const absl::Time t0 = absl::Now();
  EXPECT_EQ(playout->Pace(t0, turn).frames.size(), 3u);  // 60 ms ahead.
  EXPECT_EQ(playout->Pace(t0, turn).frames.size(), 0u);
  EXPECT_EQ(playout->Pace(t0 + absl::Milliseconds(40), turn).frames.size(), 2u);
  EXPECT_EQ(turn.first_audio_sent, t0);
  EXPECT_DOUBLE_EQ(turn.audio_sent_ms, 100);
}

TEST(ReplyPlayoutTest, APauseHoldsTheReplyWhereItIs) {
  auto playout = MakePlayout();
  Turn turn({}, "s", nullptr, 1, std::nullopt, nullptr);
  ASSERT_TRUE(playout->Push(ReplyAudio(200)).ok());
  const absl::Time t0 = absl::Now();
  playout->Pace(t0, turn);
  playout->set_paused(true);
  EXPECT_TRUE(playout->Pace(t0 + absl::Seconds(1), turn).frames.empty());
  playout->set_paused(false);
  // Resumed from the caller's present: the lead again, no burst for the time paused.
  EXPECT_EQ(playout->Pace(t0 + absl::Seconds(1), turn).frames.size(), 3u);
  EXPECT_NEAR(playout->Flush(t0 + absl::Seconds(1)), 80, 1e-6);
  EXPECT_EQ(playout->bytes_buffered(), 0u);
}

TEST(ReplyPlayoutTest, RoomIsBoundedByMaxBuffered) {
  auto playout = MakePlayout();
  EXPECT_TRUE(playout->HasRoomFor(32 * 2000)) << "an empty buffer takes any chunk";
  ASSERT_TRUE(playout->Push(ReplyAudio(900)).ok());
  EXPECT_TRUE(playout->HasRoomFor(32 * 100));
  EXPECT_FALSE(playout->HasRoomFor(32 * 120));
}

}  // namespace
}  // namespace voxflow::orchestrator
