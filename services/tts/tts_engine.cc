#include "services/tts/tts_engine.h"

#include "services/tts/voice_selection.h"

namespace voxflow::tts {

absl::StatusOr<std::string> TtsEngine::ResolveVoice(const std::string& voice,
                                                    const std::string& language) const {
  return SelectVoice(Voices(), voice, language, name());
}

}  // namespace voxflow::tts
