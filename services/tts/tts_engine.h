// TtsEngine: what a speech engine must do for the TTS service — render one piece of text at the
// engine's native format, streaming PCM as it is produced. Everything engines share (sentence
// segmentation, format conversion, chunking, tagging) lives in TtsSession.
#ifndef VOXFLOW_SERVICES_TTS_TTS_ENGINE_H_
#define VOXFLOW_SERVICES_TTS_TTS_ENGINE_H_

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "voxflow/v1/audio.pb.h"
#include "voxflow/v1/tts.pb.h"

namespace voxflow::tts {

struct RenderRequest {
  std::string text;
  std::string voice;     // A name from Voices(); resolved by ResolveVoice.
  std::string language;  // The config's (a fallback provider picks its own voice for it).
  std::string provider;  // The config's; empty for the server's default.
  float speaking_rate = 1.0f;
  float pitch_semitones = 0.0f;
  // Set when the stream is cancelled; engines that wait (mocks) stop waiting.
  const std::atomic<bool>* cancelled = nullptr;
};

// Receives native-format PCM as the engine produces it; returning false stops the rendering.
using PcmSink = std::function<bool(absl::string_view pcm)>;

// What an asynchronous rendering reports, in order: the provider that renders (again, when a
// fallback takes over), its audio (whole frames, one call at a time), and its end, once.
struct RenderCallbacks {
  std::function<void(const std::string& provider)> on_provider;
  PcmSink on_pcm;
  std::function<void(const absl::Status& status)> on_done;
};

class TtsEngine {
 public:
  virtual ~TtsEngine() = default;

  virtual std::string name() const = 0;
  virtual std::vector<v1::Voice> Voices() const = 0;

  // The voice to use for `voice` (exact name) or, when empty, the default voice for `language`.
  // INVALID_ARGUMENT naming what is unknown.
  virtual absl::StatusOr<std::string> ResolveVoice(const std::string& voice,
                                                   const std::string& language) const;

  // The format Render() produces for `voice`, given the format the caller wants (mocks render
  // straight into it; real engines have a fixed format).
  virtual v1::AudioStreamFormat NativeFormat(const std::string& voice,
                                             const v1::AudioStreamFormat& requested) const = 0;

  // Renders `request` synchronously, feeding `sink`. CANCELLED if the sink stopped it.
  virtual absl::Status Render(const RenderRequest& request,
                              const v1::AudioStreamFormat& native_format, const PcmSink& sink) = 0;

  // Renders without holding the calling thread where the engine waits on a server (the
  // callbacks then run on its threads); the others render here, as Render does. Returns what
  // aborts the rendering at once (on_done follows with CANCELLED), or nothing.
  virtual std::function<void()> RenderAsync(const RenderRequest& request,
                                            const v1::AudioStreamFormat& native_format,
                                            RenderCallbacks callbacks);

  // Render for an engine that renders asynchronously: RenderAsync, waited for on this thread.
  absl::Status RenderAndWait(const RenderRequest& request,
                             const v1::AudioStreamFormat& native_format, const PcmSink& sink);

  // OK when SynthesisConfig.provider `requested` ("" for the default) is served here;
  // INVALID_ARGUMENT naming the field (the value quoted and cut) otherwise.
  virtual absl::Status CheckProvider(absl::string_view requested) const;
};

}  // namespace voxflow::tts

#endif  // VOXFLOW_SERVICES_TTS_TTS_ENGINE_H_
