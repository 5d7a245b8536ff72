// Speech rendered whole by espeak-ng, as 16-bit mono PCM: real speech for tests and benchmarks of
// the STT side, made offline from text.
#ifndef VOXFLOW_SERVICES_TTS_RENDER_SPEECH_H_
#define VOXFLOW_SERVICES_TTS_RENDER_SPEECH_H_

#include <string>

#include "absl/status/statusor.h"

namespace voxflow::tts {

// `text` in the default en-US voice at `sample_rate`, followed by `trailing_silence_ms` of silence
// (which lets a recognizer's endpointing end the utterance).
absl::StatusOr<std::string> RenderSpeech(const std::string& text, int sample_rate,
                                         int trailing_silence_ms = 1000);

}  // namespace voxflow::tts

#endif  // VOXFLOW_SERVICES_TTS_RENDER_SPEECH_H_
