#include "services/common/converse_resumer.h"

#include <string>

#include "gtest/gtest.h"

namespace voxflow {
namespace {

v1::AudioChunk Chunk(uint64_t sequence, const std::string& data) {
  v1::AudioChunk chunk;
  chunk.set_sequence(sequence);
  chunk.set_data(data);
  return chunk;
}

v1::ConverseEvent Started(const std::string& id, const std::string& token) {
  v1::ConverseEvent event;
  event.mutable_session_started()->set_session_id(id);
  event.mutable_session_started()->set_resume_token(token);
  return event;
}

v1::ConverseEvent Reconnect(const std::string& token, int64_t used) {
  v1::ConverseEvent event;
  event.mutable_reconnect()->set_resume_token(token);
  event.mutable_reconnect()->set_audio_bytes_used(used);
  return event;
}

TEST(ConverseResumerTest, AfterAMoveTheNextStreamCarriesTheTokenAndTheAudioNotUsed) {
  v1::SessionConfig config;
  config.set_session_id("mine");
  ConverseResumer resumer(config);
  EXPECT_TRUE(resumer.FirstRequest().config().follows_moves());
  EXPECT_EQ(resumer.OnEvent(Started("mine", "t1")), ConverseResumer::Next::kContinue);
  resumer.AudioSent(Chunk(1, "aaaa"));
  resumer.AudioSent(Chunk(2, "bbbb"));
  resumer.AudioSent(Chunk(3, "cccc"));
  ASSERT_EQ(resumer.OnEvent(Reconnect("t2", 4)), ConverseResumer::Next::kReconnect);

  std::vector<v1::ConverseRequest> next = resumer.ResumeRequests();
  ASSERT_EQ(next.size(), 3u);
  EXPECT_EQ(next[0].config().resume_token(), "t2");
  EXPECT_EQ(next[0].config().session_id(), "") << "the token names the session";
  EXPECT_TRUE(next[0].config().follows_moves());
  EXPECT_EQ(next[1].audio().data(), "bbbb");
  EXPECT_EQ(next[1].audio().sequence(), 2u);
  EXPECT_EQ(next[2].audio().data(), "cccc");
  EXPECT_EQ(resumer.stream_audio_bytes(), 8) << "the resent audio counts on the new stream";

  // A second move counts from the new stream's start.
  resumer.AudioSent(Chunk(4, "dddd"));
  ASSERT_EQ(resumer.OnEvent(Reconnect("t3", 10)), ConverseResumer::Next::kReconnect);
  next = resumer.ResumeRequests();
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(next[1].audio().data(), "dd") << "the part of a chunk not used";
  EXPECT_EQ(resumer.resumes(), 2);
}

TEST(ConverseResumerTest, AStreamWhoseServerWentAwayResumesWithTheTokenAlone) {
  ConverseResumer resumer(v1::SessionConfig{}, 1 << 20, /*max_resumes=*/1);
  EXPECT_FALSE(resumer.ShouldResume(absl::UnavailableError("gone"))) << "no token yet";
  resumer.OnEvent(Started("s-1", "t1"));
  resumer.AudioSent(Chunk(1, "aaaa"));
  EXPECT_FALSE(resumer.ShouldResume(absl::InvalidArgumentError("bad request")));
  ASSERT_TRUE(resumer.ShouldResume(absl::UnavailableError("gone")));
  std::vector<v1::ConverseRequest> next = resumer.ResumeRequests();
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].config().resume_token(), "t1");
  EXPECT_FALSE(resumer.ShouldResume(absl::UnavailableError("gone"))) << "attempts are bounded";
}

TEST(ConverseResumerTest, AResumedStreamThatFailsBeforeItStartsIsRetriedWithItsAudio) {
  ConverseResumer resumer(v1::SessionConfig{});
  resumer.OnEvent(Started("s-1", "t1"));
  resumer.AudioSent(Chunk(1, "aaaa"));
  resumer.AudioSent(Chunk(2, "bbbb"));
  ASSERT_EQ(resumer.OnEvent(Reconnect("t2", 4)), ConverseResumer::Next::kReconnect);
  EXPECT_EQ(resumer.RetryDelay(), absl::ZeroDuration());
  ASSERT_EQ(resumer.ResumeRequests().size(), 2u);
  resumer.AudioSent(Chunk(3, "cccc"));  // Sent while the new stream was failing.
  // It reached a server shutting down: cancelled before its SessionStarted.
  ASSERT_TRUE(resumer.ShouldResume(absl::CancelledError("shutting down")));
  EXPECT_EQ(resumer.RetryDelay(), absl::Milliseconds(50));
  std::vector<v1::ConverseRequest> next = resumer.ResumeRequests();
  ASSERT_EQ(next.size(), 3u);
  EXPECT_EQ(next[1].audio().data(), "bbbb");
  EXPECT_EQ(next[2].audio().data(), "cccc");
  ASSERT_TRUE(resumer.ShouldResume(absl::UnavailableError("")));
  EXPECT_EQ(resumer.RetryDelay(), absl::Milliseconds(100));
  resumer.ResumeRequests();
  resumer.OnEvent(Started("s-1", "t3"));
  EXPECT_EQ(resumer.RetryDelay(), absl::ZeroDuration());
  EXPECT_FALSE(resumer.ShouldResume(absl::CancelledError(""))) << "a started stream's cancel";
}

TEST(ConverseResumerTest, AfterALostServerTheTurnInFlightIsSentAgainFromBeforeItsSpeech) {
  v1::SessionConfig config;
  config.mutable_input_format()->set_format(v1::PCM16);
  config.mutable_input_format()->set_sample_rate(8000);  // 16 bytes per ms.
  config.mutable_input_format()->set_channels(1);
  ConverseResumer resumer(config);
  resumer.OnEvent(Started("s-1", "t1"));
  for (uint64_t i = 1; i <= 10; ++i) resumer.AudioSent(Chunk(i, std::string(1600, 'a' + i)));
  v1::ConverseEvent speech;  // Turn 1 began at 200 ms and completed; turn 2 at 1300 ms, did not.
  speech.mutable_user_speech()->set_type(v1::UserSpeech::STARTED);
  speech.mutable_user_speech()->set_stream_ms(200);
  speech.mutable_user_speech()->set_turn_id(1);
  resumer.OnEvent(speech);
  v1::ConverseEvent completed;
  completed.mutable_turn_completed()->set_turn_id(1);
  resumer.OnEvent(completed);
  speech.mutable_user_speech()->set_stream_ms(1300);
  speech.mutable_user_speech()->set_turn_id(2);
  resumer.OnEvent(speech);

  ASSERT_TRUE(resumer.ShouldResume(absl::UnavailableError("gone")));
  std::vector<v1::ConverseRequest> next = resumer.ResumeRequests();
  // From 800 ms (500 ms before the speech): byte 12800, in chunk 9 (12800..14400) on.
  ASSERT_EQ(next.size(), 3u);
  EXPECT_EQ(next[1].audio().sequence(), 9u);
  EXPECT_EQ(next[1].audio().data().size(), 1600u);
  EXPECT_EQ(next[2].audio().sequence(), 10u);
}

TEST(ConverseResumerTest, KeepsOnlyTheNewestAudio) {
  ConverseResumer resumer(v1::SessionConfig{}, /*max_replay_bytes=*/8);
  resumer.OnEvent(Started("s-1", "t1"));
  for (uint64_t i = 1; i <= 5; ++i) resumer.AudioSent(Chunk(i, "xxxx"));
  resumer.OnEvent(Reconnect("t2", 0));
  std::vector<v1::ConverseRequest> next = resumer.ResumeRequests();
  ASSERT_EQ(next.size(), 3u);
  EXPECT_EQ(next[1].audio().sequence(), 4u);
}

}  // namespace
}  // namespace voxflow
