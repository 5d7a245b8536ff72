// Listener alone: a fake detector (loud samples are voice), fake hooks recording what it reports,
// and the time passed in by the test (no clock is read).
#include "services/orchestrator/listening/listener.h"

#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "services/common/audio_chunk.h"
#include "services/orchestrator/testing/test_audio.h"
#include "services/orchestrator/testing/test_speech.h"

namespace voxflow::orchestrator {
namespace {

using testing::kChunk;
using testing::LoudnessVad;
using testing::Silence;
using testing::Voice;

class RecordingHooks final : public ListenerHooks {
 public:
  struct Started {
    std::shared_ptr<Utterance> utterance;
    absl::Time speech_began;
    int64_t stream_ms;
  };
  struct Ended {
    absl::Time end_of_speech;
    absl::Time declared;
    int64_t stream_ms;
  };
  void OnUtteranceStarted(std::shared_ptr<Utterance> utterance, absl::Time speech_began,
                          int64_t stream_ms) override {
    started.push_back({std::move(utterance), speech_began, stream_ms});
  }
  void OnUtteranceEnded(absl::Time end_of_speech, absl::Time declared, int64_t stream_ms) override {
    ended.push_back({end_of_speech, declared, stream_ms});
  }
  void OnVoiceOverReply(BargeInDetector::Action action) override { actions.push_back(action); }
  bool ReplyPlaying() const override { return reply_playing; }

  std::vector<Started> started;
  std::vector<Ended> ended;
  std::vector<BargeInDetector::Action> actions;
  bool reply_playing = false;
};

class ListenerTest : public ::testing::Test {
 protected:
  ListenerTest() : t0_(absl::FromUnixSeconds(1000)), now_(t0_) {
    UseDetector(std::make_unique<LoudnessVad>());
  }

  // A new listener hearing through `vad`.
  void UseDetector(std::unique_ptr<VoiceActivityDetector> vad) {
    streaming::JitterBufferOptions input;
    input.target_duration_ms = 40;
    input.max_duration_ms = 2000;
    input.format = v1::PCM16;
    input.sample_rate = 16000;
    input.channels = 1;
    input.max_compression = 0;
    auto buffer = streaming::JitterBuffer::Create(input);
    EXPECT_TRUE(buffer.ok()) << buffer.status();
    listener_ = std::make_unique<Listener>(
        Listener::Options{.frame_ms = 20, .leading_silence_ms = 200, .input_target_ms = 40},
        MakeStreamFormat(v1::PCM16, 16000, 1), *std::move(buffer), std::move(vad),
        EndpointingSettings{.silence_ms = 300, .min_speech_ms = 100, .max_utterance_ms = 20000},
        BargeInSettings{.enabled = true, .min_speech_ms = 200}, &hooks_);
  }

  // `pcm` in 20 ms chunks, one per 20 ms of the test's time.
  void Push(const std::string& pcm) {
    for (size_t at = 0; at < pcm.size(); at += kChunk) {
      ASSERT_TRUE(
          listener_->Push(testing::Pcm16kChunk(pcm.substr(at, kChunk), ++sequence_), now_, 0).ok());
      pushed_ += kChunk;
      now_ += absl::Milliseconds(20);
    }
  }

  const absl::Time t0_;
  absl::Time now_;
  RecordingHooks hooks_;
  std::unique_ptr<Listener> listener_;
  uint64_t sequence_ = 0;
  uint64_t pushed_ = 0;
};

TEST_F(ListenerTest, SpeechIsOneUtteranceWithItsLeadingSilenceAndEndsAfterSilenceMs) {
  Push(Silence(1000));
  Push(Voice(400));
  Push(Silence(500));
  ASSERT_EQ(hooks_.started.size(), 1u);
  ASSERT_EQ(hooks_.ended.size(), 1u);
  EXPECT_EQ(hooks_.started[0].stream_ms, 1000) << "where the speech began";
  EXPECT_EQ(hooks_.started[0].speech_began, t0_ + absl::Milliseconds(1000));
  EXPECT_EQ(hooks_.ended[0].stream_ms, 1400);
  EXPECT_EQ(hooks_.ended[0].end_of_speech, t0_ + absl::Milliseconds(1380))
      << "the arrival of the last voiced frame";
  EXPECT_GE(hooks_.ended[0].declared - hooks_.ended[0].end_of_speech, absl::Milliseconds(300));

  const InputAccounting& a = listener_->accounting();
  EXPECT_EQ(a.pushed, pushed_);
  EXPECT_EQ(a.utterances, 1);
  EXPECT_EQ(a.in_utterances + a.silence_dropped + a.pending, pushed_) << "nothing lost";
  const Utterance& utterance = *hooks_.started[0].utterance;
  EXPECT_TRUE(utterance.ended());
  EXPECT_EQ(utterance.bytes(), a.in_utterances);
  // 200 ms of leading silence kept, 800 ms let go; the utterance runs to its declared end.
  EXPECT_EQ(a.silence_dropped, 32u * 800);
  EXPECT_FALSE(listener_->utterance_open());
}

TEST_F(ListenerTest, ReadersAreWokenOnlyWhenTheOwnerSaysSo) {
  Push(Voice(200));  // Confirmed: the utterance is open.
  ASSERT_EQ(hooks_.started.size(), 1u);
  std::shared_ptr<Utterance> utterance = hooks_.started[0].utterance;
  int wakes = 0;
  utterance->Watch([&] { ++wakes; });
  EXPECT_EQ(wakes, 1) << "items waited when it started watching";
  listener_->TakeReadersToWake();
  Push(Voice(100));
  EXPECT_EQ(wakes, 1) << "appending under the owner's lock wakes nobody";
  std::vector<std::shared_ptr<Utterance>> readers = listener_->TakeReadersToWake();
  ASSERT_EQ(readers.size(), 1u);
  Listener::WakeReaders(std::move(readers));
  EXPECT_EQ(wakes, 2);
  EXPECT_TRUE(listener_->TakeReadersToWake().empty());
}

TEST_F(ListenerTest, VoiceOverAPlayingReplyPausesThenInterruptsOrResumes) {
  hooks_.reply_playing = true;
  Push(Voice(60));
  ASSERT_FALSE(hooks_.actions.empty());
  EXPECT_EQ(hooks_.actions[0], BargeInDetector::Action::kPause);
  Push(Silence(400));  // A burst: the reply resumes.
  EXPECT_EQ(hooks_.actions.back(), BargeInDetector::Action::kResume);
  hooks_.actions.clear();
  Push(Voice(300));  // Confirmed speech over it: an interruption.
  ASSERT_EQ(hooks_.actions.size(), 2u);
  EXPECT_EQ(hooks_.actions[0], BargeInDetector::Action::kPause);
  EXPECT_EQ(hooks_.actions[1], BargeInDetector::Action::kInterrupt);
}

TEST_F(ListenerTest, EndOfInputDeclaresAnUtteranceWithoutVoiceAndHangUpLetsSilenceGo) {
  Push(Silence(100));
  listener_->Drain(/*all=*/true, now_, 0);
  listener_->EndUtterance(Listener::EndReason::kEndOfInput, now_);
  ASSERT_EQ(hooks_.started.size(), 1u);
  ASSERT_EQ(hooks_.ended.size(), 1u);
  EXPECT_EQ(hooks_.ended[0].end_of_speech, now_) << "no voice: the end is when it was declared";
  EXPECT_EQ(hooks_.started[0].utterance->bytes(), pushed_);

  Push(Silence(100));
  listener_->Drain(/*all=*/true, now_, 0);
  listener_->EndUtterance(Listener::EndReason::kHalfClose, now_);
  EXPECT_EQ(hooks_.started.size(), 1u) << "trailing silence is no utterance";
  const InputAccounting& a = listener_->accounting();
  EXPECT_EQ(a.pending, 0u);
  EXPECT_EQ(a.in_utterances + a.silence_dropped, pushed_);
}

// A detector that holds its decision for 160 ms after the voice (as the noise-robust one does).
class HoldingVad final : public VoiceActivityDetector {
 public:
  bool IsSpeech(absl::string_view frame) override {
    if (loudness_.IsSpeech(frame)) {
      hold_frames_ = 8;
      return true;
    }
    return hold_frames_-- > 0;
  }

 private:
  LoudnessVad loudness_;
  int hold_frames_ = 0;
};

// The end of speech, which voice-to-voice is measured from, is the last frame with the voice in
// it, not the last frame of the detector's hold after it; and silence_ms runs from there.
TEST_F(ListenerTest, TheEndOfSpeechIsTheLastFrameWithSoundNotTheDetectorsHold) {
  UseDetector(std::make_unique<HoldingVad>());
  Push(Silence(1000));
  Push(Voice(400));
  Push(Silence(800));
  ASSERT_EQ(hooks_.ended.size(), 1u);
  EXPECT_EQ(hooks_.ended[0].end_of_speech, t0_ + absl::Milliseconds(1380))
      << "the last frame of the voice, not of the hold (1540 ms)";
  EXPECT_EQ(hooks_.ended[0].stream_ms, 1400);
  EXPECT_EQ(hooks_.ended[0].declared, t0_ + absl::Milliseconds(1380 + 300))
      << "silence_ms after the voice, not after the hold (1840 ms)";
}

// A pause shorter than silence_ms inside speech does not end the utterance, however long the
// detector held its decision after the voice before it.
TEST_F(ListenerTest, AGapShorterThanSilenceMsDoesNotEndTheUtterance) {
  UseDetector(std::make_unique<HoldingVad>());
  Push(Silence(1000));
  Push(Voice(400));
  Push(Silence(280));
  Push(Voice(400));
  Push(Silence(800));
  ASSERT_EQ(hooks_.ended.size(), 1u) << "one utterance across the 280 ms gap";
  EXPECT_EQ(hooks_.ended[0].stream_ms, 1000 + 400 + 280 + 400);
}

// A last consonant the detector does not call voice (no pitch in a final "s") is speech to the
// caller: the end of speech runs on through the sound that follows the voice unbroken.
TEST_F(ListenerTest, TheEndOfSpeechRunsOnThroughSoundThatFollowsTheVoice) {
  Push(Silence(1000));
  Push(Voice(400));
  std::string hiss(3200, '\0');  // 100 ms under LoudnessVad's threshold, over the silent room.
  for (size_t i = 0; i < hiss.size(); i += 2) {
    const int16_t sample = (i / 2) % 2 ? 300 : -300;
    std::memcpy(hiss.data() + i, &sample, 2);
  }
  Push(hiss);
  Push(Silence(800));
  ASSERT_EQ(hooks_.ended.size(), 1u);
  EXPECT_EQ(hooks_.ended[0].end_of_speech, t0_ + absl::Milliseconds(1480))
      << "the last frame of the hiss, not of the voice (1380 ms)";
}

// A square wave of `amplitude`: a steady room, or a voice to LoudnessVad when over 1000.
std::string Square(int ms, int16_t amplitude) {
  std::string pcm;
  for (int i = 0; i < 16 * ms; ++i) {
    const int16_t v = i % 16 < 8 ? amplitude : static_cast<int16_t>(-amplitude);
    pcm.append(reinterpret_cast<const char*>(&v), 2);
  }
  return pcm;
}

// In a steady room a voice 4.6 dB over it is speech (a caller at 5 dB SNR): the margin over the
// floor is 3 dB where the room does not swell, and 6 dB only where it does.
TEST_F(ListenerTest, AVoiceAFewDecibelsOverASteadyRoomIsSpeech) {
  Push(Square(1000, 650));  // -34 dBFS of steady noise.
  Push(Square(400, 1100));  // The voice, 4.6 dB over it.
  Push(Square(800, 650));
  ASSERT_EQ(hooks_.started.size(), 1u);
  ASSERT_EQ(hooks_.ended.size(), 1u);
  EXPECT_EQ(hooks_.ended[0].stream_ms, 1400) << "the voice's end, not the room's";
}

// The room's steady noise is measured under the caller's voice: the quietest 100 ms of the last
// 5 s, which speech on top does not raise.
TEST_F(ListenerTest, TheNoiseFloorIsTheRoomsSteadyNoiseNotTheCallersVoice) {
  EXPECT_EQ(listener_->noise_floor_dbfs(), -100) << "nothing heard yet";
  auto hum = [](int ms) { return Square(ms, 328); };  // -40.0 dBFS RMS.
  Push(hum(1000));
  EXPECT_NEAR(listener_->noise_floor_dbfs(), -40, 0.1);
  Push(Voice(1000));
  Push(hum(200));
  EXPECT_NEAR(listener_->noise_floor_dbfs(), -40, 0.1) << "the voice is not the room";
  Push(Silence(5200));
  EXPECT_EQ(listener_->noise_floor_dbfs(), -100) << "the room went quiet 5 s ago";
}

TEST_F(ListenerTest, TheRepliesWordsComingBackAreEchoOnlyWhereTheCancellerFoundAnEcho) {
  const std::string first = "it is sunny in paris today with a light wind from the west";
  const std::string second = "tomorrow will be cloudy and a little colder in the morning";
  const std::string reply = testing::SpokenPcm16k(first) + testing::SpokenPcm16k(second);
  const size_t second_at = testing::SpokenPcm16k(first).size();
  // Without a canceller (a headset: no echo measured), the caller repeating the reply is heard.
  listener_->OnReplySpoken(first, now_, 3000);
  EXPECT_FALSE(listener_->IsEchoOfReply("sunny in paris", now_ + absl::Milliseconds(500)));

  // A speakerphone: the reply 200 ms later, 10 dB down, over faint noise.
  auto canceller = EchoCanceller::Create(MakeStreamFormat(v1::PCM16, 16000, 1),
                                         MakeStreamFormat(v1::PCM16, 16000, 1));
  ASSERT_TRUE(canceller.ok()) << canceller.status();
  listener_->UseEchoCanceller(*std::move(canceller));
  const absl::Time reply_began = now_;
  std::mt19937 rng(5);
  std::normal_distribution<double> noise(0, 20);
  const size_t delay = 2 * 3200;  // Bytes: 200 ms.
  for (size_t at = 0; at + kChunk <= reply.size(); at += kChunk) {
    listener_->OnReplyPlayed(reply.substr(at, kChunk), now_);
    listener_->OnReplySpoken(at < second_at ? first : second, now_, 20);
    std::string mic(kChunk, '\0');
    for (size_t i = 0; i < kChunk; i += 2) {
      int16_t echo = 0;
      if (at + i >= delay) std::memcpy(&echo, reply.data() + at + i - delay, 2);
      const auto sample = static_cast<int16_t>(0.3 * echo + noise(rng));
      std::memcpy(mic.data() + i, &sample, 2);
    }
    Push(mic);
  }
  ASSERT_TRUE(listener_->echo_canceller()->stats().echo_found);
  const absl::Time echo_began = reply_began + absl::Milliseconds(400);
  EXPECT_TRUE(listener_->IsEchoOfReply("sunny in paris", echo_began));
  EXPECT_TRUE(listener_->IsEchoOfReply("it is sunny in paris to day", echo_began));
  EXPECT_FALSE(listener_->IsEchoOfReply("what time is it", echo_began));
  const absl::Time second_began = reply_began + absl::Milliseconds(second_at / 32 + 500);
  EXPECT_TRUE(listener_->IsEchoOfReply("will be cloudy and a little colder", second_began));
  // Words the reply spoke long before the speech began are the caller's.
  EXPECT_FALSE(listener_->IsEchoOfReply("sunny in paris", now_ + absl::Seconds(5)));
}

// A caller without an echo talks over the first second of a loud reply, on a line cancelled from
// the start (a phone line): their onset is louder than the reply and pauses it; the rest of their
// words are quieter than the reply less 6 dB, and the suppressor takes them for its echo until
// the reply played before the pause has had time to come back (500 ms). That is no gap: the
// reply stays paused, and the caller's voice, heard once the echo's time is over, interrupts it.
TEST_F(ListenerTest, WhatTheSuppressorTookForEchoIsNoGapInAPausedReply) {
  auto canceller = EchoCanceller::Create(MakeStreamFormat(v1::PCM16, 16000, 1),
                                         MakeStreamFormat(v1::PCM16, 16000, 1));
  ASSERT_TRUE(canceller.ok()) << canceller.status();
  listener_->UseEchoCanceller(*std::move(canceller));
  hooks_.reply_playing = true;
  const std::string reply = Square(2000, 16000);
  const std::string caller = Silence(500) + Square(60, 24000) + Square(1000, 6000);
  for (size_t at = 0; at + kChunk <= caller.size(); at += kChunk) {
    // The reply goes out until it is paused.
    if (hooks_.actions.empty()) listener_->OnReplyPlayed(reply.substr(at, kChunk), now_);
    Push(caller.substr(at, kChunk));
  }
  EXPECT_GT(listener_->echo_canceller()->stats().suppressed_blocks, 20u);
  ASSERT_EQ(hooks_.actions.size(), 2u);
  EXPECT_EQ(hooks_.actions[0], BargeInDetector::Action::kPause);
  EXPECT_EQ(hooks_.actions[1], BargeInDetector::Action::kInterrupt);
}

}  // namespace
}  // namespace voxflow::orchestrator
