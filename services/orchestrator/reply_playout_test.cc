#include "services/orchestrator/reply_playout.h"

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "services/common/audio_chunk.h"

namespace voxflow::orchestrator {
namespace {

v1::AudioChunk Audio(int ms) {
  v1::AudioChunk chunk;
  chunk.set_data(std::string(32 * ms, '\1'));
  chunk.set_format(v1::PCM16);
  chunk.set_sample_rate(16000);
  chunk.set_channels(1);
  return chunk;
}

std::unique_ptr<ReplyPlayout> MakePlayout() {
  streaming::JitterBufferOptions buffer;
  buffer.target_duration_ms = 0;
  buffer.max_duration_ms = 5000;
  buffer.order_by_sequence = false;
  buffer.max_compression = 0;
  auto jitter = streaming::JitterBuffer::Create(buffer);
  EXPECT_TRUE(jitter.ok()) << jitter.status();
  return std::make_unique<ReplyPlayout>(
      *std::move(jitter), MakeStreamFormat(v1::PCM16, 16000, 1),
      ReplyPlayout::Options{.frame_ms = 20, .lead_ms = 60, .max_buffered_ms = 1000});
}

TEST(ReplyPlayoutTest, SendsTheLeadAtOnceThenFollowsRealTime) {
  auto playout = MakePlayout();
  Turn turn({}, "s", nullptr, 1, std::nullopt, nullptr);
  ASSERT_TRUE(playout->Push(Audio(200)).ok());
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
  ASSERT_TRUE(playout->Push(Audio(200)).ok());
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
  ASSERT_TRUE(playout->Push(Audio(900)).ok());
  EXPECT_TRUE(playout->HasRoomFor(32 * 100));
  EXPECT_FALSE(playout->HasRoomFor(32 * 120));
}

}  // namespace
}  // namespace voxflow::orchestrator
