#include "services/gateway/voice_clock.h"

#include "gtest/gtest.h"

namespace voxflow::gateway {
namespace {

TEST(VoiceClockTest, FromTheArrivalOfTheLastVoicedAudioToTheFirstReplyAudio) {
  absl::Time now = absl::UnixEpoch();
  VoiceClock clock([&] { return now; });
  for (int i = 0; i < 50; ++i) {  // One second of 20 ms frames, one every 20 ms.
    clock.InputArrived(20);
    now += absl::Milliseconds(20);
  }
  EXPECT_FALSE(clock.ReplyStarted().has_value());
  clock.SpeechEnded(500);  // Carried by the frame that arrived at 480 ms.
  now = absl::UnixEpoch() + absl::Milliseconds(1130);
  EXPECT_EQ(clock.ReplyStarted(), absl::Milliseconds(650));
  EXPECT_FALSE(clock.ReplyStarted().has_value());  // Once per end of speech.
}

}  // namespace
}  // namespace voxflow::gateway
