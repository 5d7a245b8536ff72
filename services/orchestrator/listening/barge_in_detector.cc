#include "services/orchestrator/listening/barge_in_detector.h"

namespace voxflow::orchestrator {

bool BargeInDetector::Confirmed(const UtteranceSegmenter& segmenter) const {
  return segmenter.phase() != UtteranceSegmenter::Phase::kSilence &&
         segmenter.speech_ms() + 1e-6 >= settings_.min_speech_ms && words_ >= settings_.min_words;
}

BargeInDetector::Action BargeInDetector::OnFrame(const UtteranceSegmenter::Events& events,
                                                 const UtteranceSegmenter& segmenter,
                                                 int64_t now_ms, bool reply_playing) {
  if (events.speech_started) {
    decided_ = false;
    words_ = 0;
  }
  if (!settings_.enabled) return Action::kNone;
  if (!paused_) {
    // Speech that began before the reply did counts too, once.
    if (!reply_playing || decided_ || segmenter.phase() == UtteranceSegmenter::Phase::kSilence) {
      return Action::kNone;
    }
    paused_ = true;
    paused_at_ms_ = now_ms;
    if (Confirmed(segmenter)) {
      paused_ = false;
      decided_ = true;
      return Action::kInterrupt;
    }
    return Action::kPause;
  }
  if (Confirmed(segmenter)) {
    paused_ = false;
    decided_ = true;
    return Action::kInterrupt;
  }
  if (events.false_start || events.ended || !reply_playing ||
      now_ms - paused_at_ms_ >= settings_.timeout_ms) {
    paused_ = false;
    decided_ = true;
    return Action::kResume;
  }
  return Action::kNone;
}

BargeInDetector::Action BargeInDetector::OnWords(int words, const UtteranceSegmenter& segmenter) {
  if (words > words_) words_ = words;
  if (!paused_ || !Confirmed(segmenter)) return Action::kNone;
  paused_ = false;
  decided_ = true;
  return Action::kInterrupt;
}

void BargeInDetector::Reset() { paused_ = false; }

}  // namespace voxflow::orchestrator
