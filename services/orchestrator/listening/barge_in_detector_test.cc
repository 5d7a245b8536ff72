#include "services/orchestrator/listening/barge_in_detector.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace voxflow::orchestrator {
namespace {

using Action = BargeInDetector::Action;

struct Harness {
  UtteranceSegmenter segmenter{{.silence_ms = 500, .min_speech_ms = 60}};
  BargeInDetector detector;
  int64_t t = 0;
  explicit Harness(BargeInSettings settings) : detector(settings) {}
  // One 20 ms frame; returns the detector's action.
  Action Frame(bool voiced, bool playing = true, bool sounding = true) {
    const auto events = segmenter.Push(t, 20, voiced, sounding);
    t += 20;
    return detector.OnFrame(events, t, 20, voiced, playing, sounding);
  }
  // A frame an echo suppressor took for the reply's echo (the segmenter is not shown it).
  Action Masked() {
    t += 20;
    return detector.OnFrame({}, t, 20, false, true, false, /*masked=*/true);
  }
};

// Bursts of noise 300 ms apart, each held by the detector for 150 ms after it: the hold neither
// counts as voice nor bridges the gap, so each burst pauses the reply and it resumes.
TEST(BargeInDetectorTest, ADetectorsHoldAfterABurstIsNeitherVoiceNorAGapBridged) {
  Harness h({.min_speech_ms = 400});
  for (int burst = 0; burst < 3; ++burst) {
    std::vector<Action> actions;
    for (int i = 0; i < 15; ++i) actions.push_back(h.Frame(true));              // 300 ms of sound.
    for (int i = 0; i < 8; ++i) actions.push_back(h.Frame(true, true, false));  // The hold.
    for (int i = 0; i < 8; ++i) actions.push_back(h.Frame(false));
    EXPECT_EQ(std::count(actions.begin(), actions.end(), Action::kPause), 1) << burst;
    EXPECT_EQ(std::count(actions.begin(), actions.end(), Action::kResume), 1) << burst;
    EXPECT_EQ(std::count(actions.begin(), actions.end(), Action::kInterrupt), 0) << burst;
  }
}

TEST(BargeInDetectorTest, VoicePausesAtOnceAndConfirmedSpeechInterrupts) {
  Harness h({.min_speech_ms = 100});
  EXPECT_EQ(h.Frame(true), Action::kPause);  // The first voiced frame.
  EXPECT_EQ(h.Frame(true), Action::kNone);
  EXPECT_EQ(h.Frame(true), Action::kNone);
  EXPECT_EQ(h.Frame(true), Action::kNone);
  EXPECT_EQ(h.Frame(true), Action::kInterrupt);  // 100 ms of speech.
  EXPECT_FALSE(h.detector.paused());
  EXPECT_EQ(h.Frame(true), Action::kNone);  // Decided: no second interruption.
}

// While the reply stands paused, frames taken for its echo are no gap in the voice; speech
// after them goes on counting toward min_speech_ms, and timeout_ms still ends the pause.
TEST(BargeInDetectorTest, FramesTakenForEchoDoNotResumeAPausedReply) {
  Harness h({.min_speech_ms = 200, .timeout_ms = 1500});
  EXPECT_EQ(h.Frame(true), Action::kPause);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(h.Frame(true), Action::kNone);  // 100 ms.
  for (int i = 0; i < 25; ++i) EXPECT_EQ(h.Masked(), Action::kNone);    // 500 ms.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(h.Frame(true), Action::kNone);
  EXPECT_EQ(h.Frame(true), Action::kInterrupt);  // 200 ms of voice heard.

  Harness t({.min_speech_ms = 400, .timeout_ms = 1500});
  EXPECT_EQ(t.Frame(true), Action::kPause);
  Action last = Action::kNone;
  int masked = 0;
  while (last == Action::kNone && masked < 200) {
    last = t.Masked();
    ++masked;
  }
  EXPECT_EQ(last, Action::kResume);
  EXPECT_EQ(masked, 75) << "timeout_ms after the pause";
  EXPECT_TRUE(t.detector.muted());
  // Not paused, a masked frame is silence like any other.
  Harness n({.min_speech_ms = 400});
  EXPECT_EQ(n.Masked(), Action::kNone);
  EXPECT_FALSE(n.detector.paused());
}

TEST(BargeInDetectorTest, ANoiseBurstShorterThanMinSpeechResumesTheReply) {
  Harness h({.min_speech_ms = 400});
  EXPECT_EQ(h.Frame(true), Action::kPause);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(h.Frame(true), Action::kNone);  // 200 ms of noise.
  Action last = Action::kNone;
  for (int i = 0; i < 30 && last == Action::kNone; ++i) last = h.Frame(false);
  EXPECT_EQ(last, Action::kResume);
}

TEST(BargeInDetectorTest, WordsAreRequiredWhenConfigured) {
  Harness h({.min_speech_ms = 60, .min_words = 2, .timeout_ms = 1000});
  EXPECT_EQ(h.Frame(true), Action::kPause);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(h.Frame(true), Action::kNone);  // Long enough, no words.
  EXPECT_EQ(h.detector.OnWords(1), Action::kNone);
  EXPECT_EQ(h.detector.OnWords(2), Action::kInterrupt);
}

TEST(BargeInDetectorTest, NoWordsWithinTheTimeoutResumes) {
  Harness h({.min_speech_ms = 60, .min_words = 1, .timeout_ms = 200});
  EXPECT_EQ(h.Frame(true), Action::kPause);
  Action last = Action::kNone;
  int frames = 0;
  while (last == Action::kNone && frames < 100) {
    last = h.Frame(true);  // Steady sound (music) with no words.
    ++frames;
  }
  EXPECT_EQ(last, Action::kResume);
  EXPECT_EQ(frames, 10);                    // 200 ms after the pause.
  EXPECT_EQ(h.Frame(true), Action::kNone);  // Not paused again by the same sound.
}

TEST(BargeInDetectorTest, NothingWhileNoReplyPlaysOrWhenDisabled) {
  Harness idle({});
  EXPECT_EQ(idle.Frame(true, /*playing=*/false), Action::kNone);
  Harness off({.enabled = false});
  for (int i = 0; i < 50; ++i) EXPECT_EQ(off.Frame(true), Action::kNone);
}

TEST(BargeInDetectorTest, SpeechAlreadyGoingWhenTheReplyStartsCountsOnce) {
  Harness h({.min_speech_ms = 100});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(h.Frame(true, /*playing=*/false), Action::kNone);
  EXPECT_EQ(h.Frame(true), Action::kPause);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(h.Frame(true), Action::kNone);
  EXPECT_EQ(h.Frame(true), Action::kInterrupt);  // 100 ms of it over the reply.
}

// Noise bursts 400 ms apart (babble, a door, a television): each pauses the reply and resumes it,
// none adds up to an interruption, and since each comes back within a second of the last resume
// they are one sound: its pauses share one timeout_ms, after which it pauses the reply no more.
TEST(BargeInDetectorTest, ASoundThatKeepsComingBackPausesTheReplyForAtMostTimeoutMs) {
  Harness h({.min_speech_ms = 400, .timeout_ms = 1500});
  int pauses = 0, resumes = 0, paused_ms = 0;
  for (int burst = 0; burst < 10; ++burst) {
    for (int i = 0; i < 35; ++i) {
      const Action a = h.Frame(/*voiced=*/i < 15);  // 300 ms of noise, 400 ms apart.
      ASSERT_NE(a, Action::kInterrupt) << burst;
      pauses += a == Action::kPause;
      resumes += a == Action::kResume;
      paused_ms += h.detector.paused() ? 20 : 0;
    }
  }
  EXPECT_EQ(pauses, 3) << "bursts 1-3 pause the reply; then the sound has had its timeout_ms";
  EXPECT_EQ(resumes, 3);
  EXPECT_LE(paused_ms, 1500);
  EXPECT_TRUE(h.detector.muted());
  // A second without voice: the sound is over, and the next voice pauses the reply again.
  for (int i = 0; i < 50; ++i) EXPECT_EQ(h.Frame(false), Action::kNone);
  EXPECT_FALSE(h.detector.muted());
  EXPECT_EQ(h.Frame(true), Action::kPause);
}

// The caller talks while the muted sound goes on: speech long enough is still an interruption
// (without the pause first).
TEST(BargeInDetectorTest, ConfirmedSpeechInterruptsEvenAfterASoundWasMuted) {
  Harness h({.min_speech_ms = 400, .timeout_ms = 600});
  for (int burst = 0; burst < 3; ++burst) {
    for (int i = 0; i < 30; ++i) h.Frame(/*voiced=*/i < 10);  // 200 ms bursts, 400 ms apart.
  }
  ASSERT_TRUE(h.detector.muted());
  Action last = Action::kNone;
  int frames = 0;
  while (last == Action::kNone && frames < 50) {
    last = h.Frame(true);
    ++frames;
  }
  EXPECT_EQ(last, Action::kInterrupt);
  EXPECT_EQ(frames, 20) << "400 ms of voice";
}

}  // namespace
}  // namespace voxflow::orchestrator
