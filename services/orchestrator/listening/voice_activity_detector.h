// VoiceActivityDetector: is there speech in this frame of the caller's audio? The session asks it
// once per input frame; the endpointing and barge-in decisions are built on its answers.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_VOICE_ACTIVITY_DETECTOR_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_VOICE_ACTIVITY_DETECTOR_H_

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "voxflow/v1/audio.pb.h"

namespace voxflow::orchestrator {

class VoiceActivityDetector {
 public:
  virtual ~VoiceActivityDetector() = default;
  // `frame`: whole frames of the session's input format, in stream order.
  virtual bool IsSpeech(absl::string_view frame) = 0;
};

// Makes one detector per session (a fake in tests).
using VadFactory = std::function<absl::StatusOr<std::unique_ptr<VoiceActivityDetector>>(
    const v1::AudioStreamFormat& input)>;

// WebRTC's voice activity detector (Debian's libwebrtc-audio-processing, through its
// AudioProcessing module). Input in any supported format is converted to 16 kHz mono first; a
// frame is speech when any of its 10 ms blocks is.
absl::StatusOr<std::unique_ptr<VoiceActivityDetector>> CreateWebRtcVad(
    const v1::AudioStreamFormat& input);

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_LISTENING_VOICE_ACTIVITY_DETECTOR_H_
