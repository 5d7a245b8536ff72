#include "services/orchestrator/listening/barge_in_detector.h"

namespace voxflow::orchestrator {

bool BargeInDetector::Confirmed() const {
  return voiced_ms_ + 1e-6 >= settings_.min_speech_ms && words_ >= settings_.min_words;
}

BargeInDetector::Action BargeInDetector::OnFrame(const UtteranceSegmenter::Events& events,
                                                 int64_t now_ms, double frame_ms, bool voiced,
                                                 bool reply_playing, bool sounding, bool masked) {
  if (events.speech_started) {
    decided_ = false;
    words_ = 0;
  }
  if (!settings_.enabled) return Action::kNone;
  // The gap in the voice is counted from its last frame with sound: a detector's hold after a
  // sound would bridge two bursts of noise into one voice.
  if ((voiced && sounding) || (masked && paused_)) last_sounding_ms_ = now_ms;
  const double silence_ms =
      voiced && sounding ? 0.0 : static_cast<double>(now_ms - last_sounding_ms_);
  const bool quiet_for_renew = now_ms - last_voiced_ms_ > kRenewMs;
  if (voiced) last_voiced_ms_ = now_ms;
  if (muted_) {
    // The sound that timed out pauses nothing; it is over after a second without voice. Speech
    // that is confirmed still interrupts.
    if (quiet_for_renew || !reply_playing) {
      muted_ = false;
    } else {
      if (silence_ms + 1e-6 >= kGapMs) voiced_ms_ = 0;
      if (voiced && sounding) voiced_ms_ += frame_ms;
      if (decided_ || !voiced || !Confirmed()) return Action::kNone;
      muted_ = false;
      decided_ = true;
      return Action::kInterrupt;
    }
  }
  if (!paused_) {
    // Speech that began before the reply did counts too, from its first frame over the reply.
    if (!reply_playing || decided_ || !voiced) return Action::kNone;
    paused_ = true;
    // Back within a second of its resume: the same sound, on the same clock.
    if (now_ms - resumed_at_ms_ > kRenewMs) paused_at_ms_ = now_ms;
    voiced_ms_ = 0;
  }
  if (voiced && sounding) voiced_ms_ += frame_ms;
  if (Confirmed()) {
    paused_ = false;
    decided_ = true;
    return Action::kInterrupt;
  }
  if (!reply_playing || events.false_start || events.ended || silence_ms + 1e-6 >= kGapMs) {
    paused_ = false;
    resumed_at_ms_ = now_ms;
    return Action::kResume;
  }
  if (now_ms - paused_at_ms_ >= settings_.timeout_ms) {
    paused_ = false;
    muted_ = true;
    voiced_ms_ = 0;
    return Action::kResume;
  }
  return voiced_ms_ == frame_ms && voiced ? Action::kPause : Action::kNone;
}

BargeInDetector::Action BargeInDetector::OnWords(int words) {
  if (words > words_) words_ = words;
  if (!(paused_ || muted_) || decided_ || !Confirmed()) return Action::kNone;
  paused_ = false;
  muted_ = false;
  decided_ = true;
  return Action::kInterrupt;
}

void BargeInDetector::Reset() {
  paused_ = false;
  muted_ = false;
  resumed_at_ms_ = -1000000;
}

}  // namespace voxflow::orchestrator
