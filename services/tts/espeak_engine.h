// EspeakEngine: text-to-speech on espeak-ng (offline, Debian's libespeak-ng). espeak-ng keeps
// global state and is not thread-safe, so renders are serialised on one lock; it renders far
// faster than real time (bench/), so one lock serves many streams.
#ifndef VOXFLOW_SERVICES_TTS_ESPEAK_ENGINE_H_
#define VOXFLOW_SERVICES_TTS_ESPEAK_ENGINE_H_

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/tts/tts_engine.h"

namespace voxflow::tts {

struct EspeakOptions {
  // Variant applied when a stream names no voice. espeak-ng's Klatt variants are the voices
  // pocketsphinx recognises best (measured: 4 of 4 test phrases mostly right with klatt2, 0 of 4
  // with the plain voice), which the demo's speech round trip relies on.
  std::string default_variant = "klatt2";
  std::string data_dir = "/usr/lib/x86_64-linux-gnu/espeak-ng-data";
};

class EspeakEngine final : public TtsEngine {
 public:
  // Initialises espeak-ng (once per process). UNAVAILABLE if its data cannot be loaded.
  static absl::StatusOr<std::unique_ptr<EspeakEngine>> Create(EspeakOptions options = {});

  // Voices are the listed names, optionally with a variant: "English_(America)+klatt2".
  absl::StatusOr<std::string> ResolveVoice(const std::string& voice,
                                           const std::string& language) const override;

  std::string name() const override { return "espeak-ng"; }
  std::vector<v1::Voice> Voices() const override { return voices_; }
  v1::AudioStreamFormat NativeFormat(const std::string& voice,
                                     const v1::AudioStreamFormat& requested) const override;
  absl::Status Render(const RenderRequest& request, const v1::AudioStreamFormat& native_format,
                      const PcmSink& sink) override;

 private:
  EspeakEngine(EspeakOptions options, int sample_rate, std::vector<v1::Voice> voices)
      : options_(std::move(options)), sample_rate_(sample_rate), voices_(std::move(voices)) {}

  bool VariantExists(const std::string& variant) const;

  const EspeakOptions options_;
  const int sample_rate_;
  const std::vector<v1::Voice> voices_;
};

}  // namespace voxflow::tts

#endif  // VOXFLOW_SERVICES_TTS_ESPEAK_ENGINE_H_
