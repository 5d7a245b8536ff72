#include "services/orchestrator/listening/utterance_segmenter.h"

#include <algorithm>
#include <string>

#include "gtest/gtest.h"

namespace voxflow::orchestrator {
namespace {

// Drives a segmenter with a script of 20 ms frames: 'x' voiced, 'h' voiced without sound over the
// room's (a detector's hold), '.' not. Returns one letter per frame for what happened: S started,
// C confirmed (B both), F false start, E ended, - nothing.
// `hold_is_silence`: the caller tells the segmenter that speech does not go on through 'h'.
std::string Script(UtteranceSegmenter& segmenter, const std::string& script,
                   bool hold_is_silence = false) {
  std::string out;
  int64_t t = 0;
  for (char c : script) {
    const auto e = hold_is_silence ? segmenter.Push(t, 20, c != '.', c == 'x', c == 'x')
                                   : segmenter.Push(t, 20, c != '.', c == 'x');
    t += 20;
    out += e.speech_started && e.confirmed ? 'B'
           : e.speech_started              ? 'S'
           : e.confirmed                   ? 'C'
           : e.false_start                 ? 'F'
           : e.ended                       ? 'E'
                                           : '-';
  }
  return out;
}

TEST(UtteranceSegmenterTest, SpeechThenSilenceEndsAfterSilenceMs) {
  UtteranceSegmenter segmenter({.silence_ms = 100, .min_speech_ms = 60, .max_utterance_ms = 0});
  EXPECT_EQ(Script(segmenter, "..xxxxx....."), "--S-C------E");
  EXPECT_EQ(segmenter.speech_start_ms(), 40);
  EXPECT_EQ(segmenter.speech_end_ms(), 140);
  EXPECT_EQ(segmenter.phase(), UtteranceSegmenter::Phase::kSilence);
}

// A short sound and the detector's hold after it are not min_speech_ms of speech; the hold
// bridges the gaps inside real speech all the same.
TEST(UtteranceSegmenterTest, OnlyVoiceWithSoundCountsTowardMinSpeechMs) {
  UtteranceSegmenter segmenter({.silence_ms = 300, .min_speech_ms = 100, .max_utterance_ms = 0});
  EXPECT_EQ(Script(segmenter, "xxxhhhhhhh..............."), "S-----------------------F");
  EXPECT_EQ(Script(segmenter, "xxxhhxxhhh..............."), "S-----C-----------------E");
}

TEST(UtteranceSegmenterTest, APauseShorterThanSilenceMsStaysOneUtterance) {
  UtteranceSegmenter long_silence({.silence_ms = 1000, .min_speech_ms = 60});
  // 700 ms pause (35 frames) between two words.
  const std::string script = "xxxxx" + std::string(35, '.') + "xxxxx" + std::string(50, '.');
  const std::string events = Script(long_silence, script);
  EXPECT_EQ(std::count(events.begin(), events.end(), 'E'), 1);
  EXPECT_EQ(std::count(events.begin(), events.end(), 'S'), 1);

  UtteranceSegmenter short_silence({.silence_ms = 300, .min_speech_ms = 60});
  const std::string split = Script(short_silence, script);
  EXPECT_EQ(std::count(split.begin(), split.end(), 'E'), 2);
  EXPECT_EQ(std::count(split.begin(), split.end(), 'S'), 2);
}

TEST(UtteranceSegmenterTest, ShortSoundIsAFalseStart) {
  UtteranceSegmenter segmenter({.silence_ms = 500, .min_speech_ms = 100});
  // 40 ms of sound, then 300 ms of silence: never confirmed.
  const std::string events = Script(segmenter, "xx" + std::string(15, '.'));
  EXPECT_EQ(events.find('C'), std::string::npos);
  EXPECT_NE(events.find('F'), std::string::npos);
  EXPECT_EQ(segmenter.phase(), UtteranceSegmenter::Phase::kSilence);
}

// silence_ms runs from where the caller says the speech stopped going on, not from the end of
// the detector's hold.
TEST(UtteranceSegmenterTest, SilenceMsRunsFromTheEndOfSpeechTheCallerGives) {
  UtteranceSegmenter held({.silence_ms = 100, .min_speech_ms = 60, .max_utterance_ms = 0});
  EXPECT_EQ(Script(held, "xxxxxhhhh......"), "S-C----------E-");
  UtteranceSegmenter told({.silence_ms = 100, .min_speech_ms = 60, .max_utterance_ms = 0});
  EXPECT_EQ(Script(told, "xxxxxhhhh......", /*hold_is_silence=*/true), "S-C------E-----");
  EXPECT_EQ(told.speech_end_ms(), 100) << "the end of the last frame whose speech went on";
}

TEST(UtteranceSegmenterTest, GapsInsideWordsDoNotResetTentativeSpeech) {
  UtteranceSegmenter segmenter({.silence_ms = 500, .min_speech_ms = 100});
  EXPECT_EQ(Script(segmenter, "xx..xx..x"), "S-------C");
}

TEST(UtteranceSegmenterTest, MaxUtteranceCutsLongSpeech) {
  UtteranceSegmenter segmenter({.silence_ms = 500, .min_speech_ms = 20, .max_utterance_ms = 200});
  EXPECT_EQ(Script(segmenter, std::string(12, 'x')),
            "B--------E"
            "B-");
}

TEST(UtteranceSegmenterTest, ResetEndsTheUtteranceAtOnce) {
  UtteranceSegmenter segmenter({.silence_ms = 500, .min_speech_ms = 20});
  Script(segmenter, "xxx");
  EXPECT_EQ(segmenter.phase(), UtteranceSegmenter::Phase::kSpeaking);
  segmenter.Reset();
  EXPECT_EQ(segmenter.phase(), UtteranceSegmenter::Phase::kSilence);
  EXPECT_EQ(Script(segmenter, "x"), "B");
}

}  // namespace
}  // namespace voxflow::orchestrator
