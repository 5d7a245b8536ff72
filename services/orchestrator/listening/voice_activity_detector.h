// VoiceActivityDetector: is there speech in this frame of the caller's audio? The session asks it
// once per input frame; the endpointing and barge-in decisions are built on its answers.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_VOICE_ACTIVITY_DETECTOR_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_VOICE_ACTIVITY_DETECTOR_H_

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "voxflow/v1/audio.pb.h"
#include "voxflow/v1/orchestrator.pb.h"

namespace voxflow::orchestrator {

class VoiceActivityDetector {
 public:
  virtual ~VoiceActivityDetector() = default;
  // `frame`: whole frames of the session's input format, in stream order.
  virtual bool IsSpeech(absl::string_view frame) = 0;
};

// Makes one detector per session, of the kind asked for (a fake in tests);
// `behind_echo_canceller`: it hears the caller after the session's echo canceller.
using VadFactory = std::function<absl::StatusOr<std::unique_ptr<VoiceActivityDetector>>(
    const v1::AudioStreamFormat& input, v1::VoiceDetector kind, bool behind_echo_canceller)>;

// WebRTC's voice activity detector (Debian's libwebrtc-audio-processing, through its
// AudioProcessing module). Input in any supported format is converted to 16 kHz mono first; a
// frame is speech when any of its 10 ms blocks is.
absl::StatusOr<std::unique_ptr<VoiceActivityDetector>> CreateWebRtcVad(
    const v1::AudioStreamFormat& input);

// The noise-robust detector's settings (defaults: what bench/listening chose).
struct NoiseRobustVadOptions {
  // WebRTC noise suppression ahead of the other tests: 0..3 (low..very high), -1 off.
  int noise_suppression = 2;
  // WebRTC's GMM detector's decision on the cleaned block as one more test. It tells the caller
  // from what an echo canceller leaves of the reply (that residue is a voice, with a pitch, over
  // the floor); without an echo it changed no decision in bench/listening but made a soft
  // onset's first voiced block later, and leaving it out saves a tenth of the detector's work.
  bool gmm = false;
  // A block is speech only this far above the noise floor (the quietest 50 ms of the last
  // `floor_window_ms`), in dB; 0 turns the gate off.
  double floor_snr_db = 3;
  int floor_window_ms = 1500;
  // Voiced speech has a pitch: the pre-emphasized block must correlate with itself one pitch
  // period (2.5..20 ms) later at least this much; 0 turns the check off. Unvoiced sounds between
  // voiced ones are carried by `voicing_hold_ms` (a hangover after each pitched block).
  double min_harmonicity = 0.4;
  int voicing_hold_ms = 150;
  // Voices in the background (babble, a television) are quieter than the caller's: a block this
  // far below the caller's loudest recent voiced block is not the caller (0 turns it off). That
  // level falls by `foreground_decay_db_per_s`, so a caller who moves away is heard again.
  double foreground_margin_db = 15;
  double foreground_decay_db_per_s = 1;
};

// Rejects the room: WebRTC's noise suppression, then the level above an adaptive noise floor
// (stationary noise, hum), a pitch (broadband bursts: white, pink, brown noise) and the caller's
// own level (voices in the background). Adapts from the first frames and keeps adapting.
absl::StatusOr<std::unique_ptr<VoiceActivityDetector>> CreateNoiseRobustVad(
    const v1::AudioStreamFormat& input, NoiseRobustVadOptions options = {});

// The detector of `kind` (VOICE_DETECTOR_WEBRTC or VOICE_DETECTOR_NOISE_ROBUST); behind an echo
// canceller the noise-robust one adds WebRTC's GMM (NoiseRobustVadOptions::gmm).
absl::StatusOr<std::unique_ptr<VoiceActivityDetector>> CreateVoiceActivityDetector(
    const v1::AudioStreamFormat& input, v1::VoiceDetector kind, bool behind_echo_canceller = false);

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_VOICE_ACTIVITY_DETECTOR_H_
