// Which voice a synthesis config selects among a provider's voices: the TTS service and the
// orchestrator (checking a session's config against the voices its TTS backend lists) give the
// same answer.
#ifndef VOXFLOW_SERVICES_TTS_VOICE_SELECTION_H_
#define VOXFLOW_SERVICES_TTS_VOICE_SELECTION_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "voxflow/v1/tts.pb.h"

namespace voxflow::tts {

// The name of `voice` (exact) among `voices` or, when `voice` is empty, the default voice for
// `language` (exact tag first, then the same primary language; empty: en-US). INVALID_ARGUMENT
// naming config.voice or config.language otherwise.
absl::StatusOr<std::string> SelectVoice(const std::vector<v1::Voice>& voices,
                                        absl::string_view voice, absl::string_view language,
                                        absl::string_view provider);

}  // namespace voxflow::tts

#endif  // VOXFLOW_SERVICES_TTS_VOICE_SELECTION_H_
