// BargeInDetector: decides what the caller's voice over a reply does to it. Voice activity pauses
// the reply at once; the pause becomes an interruption when the speech is confirmed
// (min_speech_ms of speech, and min_words recognised words when asked), and the reply resumes
// where it paused when it is not (a false start, or no confirmation within timeout_ms): LiveKit's
// false-interruption handling. Pure logic over stream time.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_BARGE_IN_DETECTOR_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_BARGE_IN_DETECTOR_H_

#include <cstdint>

#include "services/orchestrator/listening/utterance_segmenter.h"

namespace voxflow::orchestrator {

struct BargeInSettings {
  bool enabled = true;
  int min_speech_ms = 400;
  int min_words = 0;
  int timeout_ms = 1500;
};

class BargeInDetector {
 public:
  enum class Action { kNone, kPause, kResume, kInterrupt };

  explicit BargeInDetector(BargeInSettings settings) : settings_(settings) {}

  // After each input frame the segmenter took (`events` from it), at stream time `now_ms`.
  // `reply_playing`: reply audio of the current turn is going out (or paused by us).
  Action OnFrame(const UtteranceSegmenter::Events& events, const UtteranceSegmenter& segmenter,
                 int64_t now_ms, bool reply_playing);
  // The recognizer heard `words` words of the speech so far.
  Action OnWords(int words, const UtteranceSegmenter& segmenter);
  // The reply ended or was interrupted: forget any pause.
  void Reset();

  bool paused() const { return paused_; }
  const BargeInSettings& settings() const { return settings_; }

 private:
  bool Confirmed(const UtteranceSegmenter& segmenter) const;

  const BargeInSettings settings_;
  bool paused_ = false;
  bool decided_ = false;  // This speech already interrupted or was let go.
  int64_t paused_at_ms_ = 0;
  int words_ = 0;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_BARGE_IN_DETECTOR_H_
