#include "services/orchestrator/listening/barge_in_detector.h"

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
  Action Frame(bool voiced, bool playing = true) {
    const auto events = segmenter.Push(t, 20, voiced);
    t += 20;
    return detector.OnFrame(events, segmenter, t, 20, voiced, playing);
  }
};

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
  EXPECT_EQ(h.detector.OnWords(1, h.segmenter), Action::kNone);
  EXPECT_EQ(h.detector.OnWords(2, h.segmenter), Action::kInterrupt);
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

TEST(BargeInDetectorTest, BurstsWithGapsDoNotAddUpToAnInterruption) {
  Harness h({.min_speech_ms = 400});
  for (int burst = 0; burst < 5; ++burst) {
    EXPECT_EQ(h.Frame(true), Action::kPause) << burst;
    for (int i = 0; i < 14; ++i) EXPECT_EQ(h.Frame(true), Action::kNone);  // 300 ms.
    Action last = Action::kNone;
    for (int i = 0; i < 20; ++i) {
      const Action a = h.Frame(false);  // 400 ms apart.
      if (a != Action::kNone) last = a;
    }
    EXPECT_EQ(last, Action::kResume) << burst;
  }
}

}  // namespace
}  // namespace voxflow::orchestrator
