// BargeInDetector: decides what the caller's voice over a reply does to it. Voice activity pauses
// the reply at once; the pause becomes an interruption when the speech is confirmed
// (min_speech_ms of voice heard over the reply, and min_words recognised words when asked), and
// the reply resumes where it paused when it is not: a gap in the voice (a burst of noise, a
// cough), or no confirmation within timeout_ms (music, steady noise; that sound then pauses the
// reply no more). A sound that pauses the reply again within a second of its resuming is the same
// sound: its pauses share one timeout_ms, and once that has passed it pauses the reply no more
// until a second without voice (speech long enough to be confirmed still interrupts, without the
// pause). LiveKit's false-interruption handling. Pure logic over stream time.
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
  // `reply_playing`: reply audio of the current turn is going out (or paused by us). `sounding`:
  // a voiced frame whose sound is over the room's (a detector's hold after a sound has stopped
  // does not count toward min_speech_ms). `masked`: an echo suppressor took the frame's audio for
  // the reply's echo; while the reply stands paused, that is no gap in the caller's voice (the
  // echo of the reply played before the pause is still coming back, and the caller's voice may
  // be under it), so it does not resume the reply; timeout_ms still bounds the pause.
  Action OnFrame(const UtteranceSegmenter::Events& events, int64_t now_ms, double frame_ms,
                 bool voiced, bool reply_playing, bool sounding = true, bool masked = false);
  // The recognizer heard `words` words of the speech so far.
  Action OnWords(int words);
  // The reply ended or was interrupted: forget any pause.
  void Reset();

  bool paused() const { return paused_; }
  // A sound kept renewing its pause past timeout_ms: it pauses the reply no more.
  bool muted() const { return muted_; }
  const BargeInSettings& settings() const { return settings_; }

 private:
  bool Confirmed() const;
  // Voice that stops this long was not an interruption.
  static constexpr double kGapMs = 300;
  // Voice that comes back within this long of a resume is the same sound, and a sound that
  // stops this long is over.
  static constexpr double kRenewMs = 1000;

  const BargeInSettings settings_;
  bool paused_ = false;
  bool decided_ = false;  // This speech already interrupted, or timed out.
  bool muted_ = false;
  int64_t paused_at_ms_ = 0;  // The first pause of the sound (renewed pauses keep it).
  int64_t resumed_at_ms_ = -1000000;
  int64_t last_voiced_ms_ = -1000000;
  int64_t last_sounding_ms_ = -1000000;  // The last voiced frame with sound over the room's.
  double voiced_ms_ = 0;                 // Voice heard since the pause.
  int words_ = 0;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_BARGE_IN_DETECTOR_H_
