#include "services/tts/tts_engine.h"

#include "services/common/notification.h"
#include "services/common/providers/served_provider.h"
#include "services/tts/voice_selection.h"

namespace voxflow::tts {

absl::StatusOr<std::string> TtsEngine::ResolveVoice(const std::string& voice,
                                                    const std::string& language) const {
  return SelectVoice(Voices(), voice, language, name());
}

std::function<void()> TtsEngine::RenderAsync(const RenderRequest& request,
                                             const v1::AudioStreamFormat& native_format,
                                             RenderCallbacks callbacks) {
  if (callbacks.on_provider) callbacks.on_provider(name());
  callbacks.on_done(Render(request, native_format, callbacks.on_pcm));
  return nullptr;
}

absl::Status TtsEngine::RenderAndWait(const RenderRequest& request,
                                      const v1::AudioStreamFormat& native_format,
                                      const PcmSink& sink) {
  Notification done;
  absl::Status result;
  RenderCallbacks callbacks;
  callbacks.on_pcm = sink;
  callbacks.on_done = [&](const absl::Status& status) {
    result = status;
    done.Notify();
  };
  RenderAsync(request, native_format, std::move(callbacks));
  done.WaitForNotification();
  return result;
}

absl::Status TtsEngine::CheckProvider(absl::string_view requested) const {
  return CheckServedProvider(requested, {name()});
}

}  // namespace voxflow::tts
