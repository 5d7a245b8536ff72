// ReplyOutput alone: which turn's audio it takes, the tts waiting for room, barge-in, and what
// was played; the time is the test's.
#include "services/orchestrator/reply_output.h"

#include "gtest/gtest.h"
#include "services/common/audio_chunk.h"
#include "services/orchestrator/testing/test_playout.h"

namespace voxflow::orchestrator {
namespace {

using testing::ReplyAudio;

std::unique_ptr<ReplyOutput> MakeOutput() {
  return std::make_unique<ReplyOutput>(testing::MakeTestPlayout(/*max_buffered_ms=*/300));
}

std::shared_ptr<Turn> MakeTurn(int id) {
  return std::make_shared<Turn>(std::weak_ptr<TurnHost>(), "s", nullptr, id, std::nullopt, nullptr);
}

const absl::Time kT0 = absl::FromUnixSeconds(1000);

TEST(ReplyOutputTest, OnlyThePlayingTurnIsTaken) {
  auto output = MakeOutput();
  auto first = MakeTurn(1);
  auto second = MakeTurn(2);
  v1::AudioChunk audio = ReplyAudio(100);
  EXPECT_EQ(output->Offer(1, audio, "hi"), ReplyOffer::kRefused) << "no turn plays yet";
  output->Play(first);
  v1::AudioChunk later = ReplyAudio(100);
  EXPECT_EQ(output->Offer(2, later, "next"), ReplyOffer::kRefused) << "waits its turn";
  EXPECT_EQ(output->Offer(1, audio, "hi"), ReplyOffer::kTaken);
  EXPECT_TRUE(output->HasAudio());
  EXPECT_FALSE(output->Playing()) << "nothing sent yet";
  EXPECT_EQ(output->Pace(kT0).frames.size(), 3u);
  EXPECT_TRUE(output->Playing());
  EXPECT_DOUBLE_EQ(first->audio_sent_ms, 60);
  EXPECT_EQ(first->first_audio_sent, kT0);
  EXPECT_EQ(first->heard.HeardText(), "") << "60 ms of a 100 ms word";
  EXPECT_EQ(output->Pace(kT0 + absl::Milliseconds(40)).frames.size(), 2u);
  EXPECT_EQ(first->heard.HeardText(), "hi");
  EXPECT_EQ(second->audio_sent_ms, 0);
}

TEST(ReplyOutputTest, TheWaiterGoesOnOnceThereIsRoom) {
  auto output = MakeOutput();
  auto turn = MakeTurn(1);
  output->Play(turn);
  v1::AudioChunk audio = ReplyAudio(280);
  ASSERT_EQ(output->Offer(1, audio, "a"), ReplyOffer::kTaken);
  v1::AudioChunk more = ReplyAudio(100);
  ASSERT_EQ(output->Offer(1, more, "b"), ReplyOffer::kFull);
  bool woken = false;
  output->AwaitRoom(1, 32 * 100, [&] { woken = true; });
  EXPECT_EQ(output->TakeWokenWaiter(), nullptr) << "still full";
  output->Pace(kT0);  // 60 ms out: 220 + 100 does not fit in 300.
  EXPECT_EQ(output->TakeWokenWaiter(), nullptr);
  output->Pace(kT0 + absl::Milliseconds(40));  // 100 ms out: 180 + 100 fits.
  std::function<void()> waiter = output->TakeWokenWaiter();
  ASSERT_NE(waiter, nullptr);
  waiter();
  EXPECT_TRUE(woken);
  EXPECT_EQ(output->TakeWokenWaiter(), nullptr) << "once";
}

TEST(ReplyOutputTest, BargeInFlushesAndFreesTheWaiter) {
  auto output = MakeOutput();
  auto turn = MakeTurn(1);
  output->Play(turn);
  v1::AudioChunk audio = ReplyAudio(280);
  ASSERT_EQ(output->Offer(1, audio, "a"), ReplyOffer::kTaken);
  output->AwaitRoom(1, 32 * 100, [] {});
  output->Pace(kT0);
  output->Pause();
  EXPECT_TRUE(output->Pace(kT0 + absl::Seconds(1)).frames.empty()) << "held while paused";
  turn->interrupted = true;
  EXPECT_NEAR(output->Flush(kT0 + absl::Seconds(1)), 220, 1e-6);
  EXPECT_FALSE(output->HasAudio());
  EXPECT_FALSE(output->Playing());
  EXPECT_NE(output->TakeWokenWaiter(), nullptr) << "its turn plays no more";
  v1::AudioChunk late = ReplyAudio(20);
  EXPECT_EQ(output->Offer(1, late, "c"), ReplyOffer::kRefused);
}

TEST(ReplyOutputTest, ClosingDropsTheWaiterAndRefusesAudio) {
  auto output = MakeOutput();
  output->Play(MakeTurn(1));
  output->AwaitRoom(1, 32 * 100, [] { FAIL() << "a closed session's stage is cancelled"; });
  output->Close();
  EXPECT_EQ(output->TakeWokenWaiter(), nullptr);
  v1::AudioChunk audio = ReplyAudio(20);
  EXPECT_EQ(output->Offer(1, audio, "a"), ReplyOffer::kRefused);
}

}  // namespace
}  // namespace voxflow::orchestrator
