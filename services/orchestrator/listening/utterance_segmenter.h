// UtteranceSegmenter: cuts the caller's input into utterances from per-frame voice activity
// decisions. Pure logic over stream time: no clock, no audio, no threads.
//
//   silence --voiced--> tentative --min_speech_ms voiced--> speaking --silence_ms unvoiced--> end
//              ^              | silence (false start)           | max_utterance_ms      (silence)
//              +--------------+                                 +--> end
//
// A tentative start is what barge-in pauses a reply on; `confirmed` is what starts a turn; the
// end of an utterance comes `silence_ms` after its speech last went on (or at max_utterance_ms, or
// when the session ends it: END_OF_INPUT, the recognizer's endpoint).
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_UTTERANCE_SEGMENTER_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_UTTERANCE_SEGMENTER_H_

#include <cstdint>

namespace voxflow::orchestrator {

struct EndpointingSettings {
  int silence_ms = 500;          // Unvoiced time after speech that ends the utterance.
  int min_speech_ms = 150;       // Voiced time before an utterance counts (starts a turn).
  int max_utterance_ms = 20000;  // From the speech start; the utterance is cut there.
};

class UtteranceSegmenter {
 public:
  enum class Phase { kSilence, kTentative, kSpeaking };

  // What one frame changed. Several may be set by one frame (e.g. started and confirmed).
  struct Events {
    bool speech_started = false;  // First voiced frame after silence (tentative).
    bool false_start = false;     // A tentative start ended without enough speech.
    bool confirmed = false;       // min_speech_ms of speech: this is an utterance.
    bool ended = false;           // The utterance ended (silence_ms after speech, or too long).
  };

  explicit UtteranceSegmenter(EndpointingSettings settings) : settings_(settings) {}

  // One frame of `frame_ms` starting at stream time `start_ms`.
  // `sounding`: a voiced frame whose sound is over the room's; only those count toward
  // min_speech_ms (a detector's hold after a short sound does not make it an utterance).
  // `speech_goes_on`: once speaking, whether the caller's speech goes on in this frame; silence_ms
  // runs from the last frame where it did (a detector's hold over a quiet room is not speech, a
  // last unvoiced consonant is).
  Events Push(int64_t start_ms, double frame_ms, bool voiced, bool sounding, bool speech_goes_on);
  // The detector's decision alone: speech goes on while it is voiced.
  Events Push(int64_t start_ms, double frame_ms, bool voiced, bool sounding = true) {
    return Push(start_ms, frame_ms, voiced, sounding, voiced);
  }
  // The session ended the utterance (END_OF_INPUT, recognizer endpoint): back to silence.
  void Reset();

  Phase phase() const { return phase_; }
  // Voiced time since the tentative start, in ms.
  double speech_ms() const { return speech_ms_; }
  // Stream time where the speech began, and where it last went on.
  int64_t speech_start_ms() const { return speech_start_ms_; }
  int64_t speech_end_ms() const { return speech_end_ms_; }
  // Time since the speech last went on (unvoiced time before it is confirmed), in ms.
  double silence_run_ms() const { return silence_run_ms_; }
  const EndpointingSettings& settings() const { return settings_; }

 private:
  // A tentative start that hears this much non-speech is a false start.
  double FalseStartGapMs() const;

  const EndpointingSettings settings_;
  Phase phase_ = Phase::kSilence;
  double speech_ms_ = 0;
  double silence_run_ms_ = 0;
  int64_t speech_start_ms_ = 0;
  int64_t speech_end_ms_ = 0;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_UTTERANCE_SEGMENTER_H_
