#include "services/orchestrator/listening/utterance_segmenter.h"

#include <algorithm>
#include <cmath>

namespace voxflow::orchestrator {

double UtteranceSegmenter::FalseStartGapMs() const {
  // Short gaps inside a word are not the end of it; a lone click is forgotten quickly.
  return std::min(settings_.silence_ms, 300);
}

UtteranceSegmenter::Events UtteranceSegmenter::Push(int64_t start_ms, double frame_ms, bool voiced,
                                                    bool sounding, bool speech_goes_on) {
  Events events;
  const auto end_ms = start_ms + static_cast<int64_t>(std::llround(frame_ms));
  switch (phase_) {
    case Phase::kSilence:
      if (!voiced) break;
      phase_ = Phase::kTentative;
      events.speech_started = true;
      speech_ms_ = 0;
      silence_run_ms_ = 0;
      speech_start_ms_ = start_ms;
      [[fallthrough]];
    case Phase::kTentative:
      if (voiced) {
        if (sounding) speech_ms_ += frame_ms;
        silence_run_ms_ = 0;
        speech_end_ms_ = end_ms;
        if (speech_ms_ + 1e-6 >= settings_.min_speech_ms) {
          phase_ = Phase::kSpeaking;
          events.confirmed = true;
        }
      } else {
        silence_run_ms_ += frame_ms;
        if (silence_run_ms_ + 1e-6 >= FalseStartGapMs()) {
          phase_ = Phase::kSilence;
          events.false_start = true;
        }
      }
      break;
    case Phase::kSpeaking:
      if (voiced) speech_ms_ += frame_ms;
      if (speech_goes_on) {
        silence_run_ms_ = 0;
        speech_end_ms_ = end_ms;
      } else {
        silence_run_ms_ += frame_ms;
      }
      if (silence_run_ms_ + 1e-6 >= settings_.silence_ms ||
          (settings_.max_utterance_ms > 0 &&
           end_ms - speech_start_ms_ >= settings_.max_utterance_ms)) {
        phase_ = Phase::kSilence;
        events.ended = true;
      }
      break;
  }
  return events;
}

void UtteranceSegmenter::Reset() {
  phase_ = Phase::kSilence;
  speech_ms_ = 0;
  silence_run_ms_ = 0;
}

}  // namespace voxflow::orchestrator
