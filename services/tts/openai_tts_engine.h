// OpenAiTtsEngine: the `openai` TTS provider — any server that speaks OpenAI's POST /audio/speech
// (OpenAI, Kokoro-FastAPI, speaches, openedai-speech, LocalAI). One request per sentence, JSON
// (model, input, voice, response_format, speed); the answer is read as it streams, 24 kHz 16-bit
// mono `pcm` as OpenAI documents it (or a `wav` body, for servers without pcm), and handed on at
// once, so that a caller hears a sentence's start before the server has finished it. Requests
// run on the process's CurlLoop: no thread waits on them.
#ifndef VOXFLOW_SERVICES_TTS_OPENAI_TTS_ENGINE_H_
#define VOXFLOW_SERVICES_TTS_OPENAI_TTS_ENGINE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/common/providers/remote_request.h"
#include "services/tts/tts_engine.h"

namespace voxflow::tts {

struct OpenAiTtsOptions {
  RemoteServerOptions server;
  std::string response_format = "pcm";  // Or "wav".
  // The voices to offer; empty: the server's own list (GET /audio/voices, as Kokoro-FastAPI
  // offers it), else OpenAI's.
  std::vector<std::string> voices;
  std::vector<std::string> languages = {"en-US"};  // The voices speak these.
};

class OpenAiTtsEngine final : public TtsEngine {
 public:
  static constexpr int kSampleRate = 24000;

  // Asks the server for its voices when none are configured (a server without the list is
  // not an error: OpenAI's voices are offered).
  static absl::StatusOr<std::unique_ptr<OpenAiTtsEngine>> Create(OpenAiTtsOptions options);

  std::string name() const override { return "openai"; }
  std::vector<v1::Voice> Voices() const override { return voices_; }
  v1::AudioStreamFormat NativeFormat(const std::string& voice,
                                     const v1::AudioStreamFormat& requested) const override;
  // Waits for the rendering (a unary Synthesize); streams use RenderAsync.
  absl::Status Render(const RenderRequest& request, const v1::AudioStreamFormat& native_format,
                      const PcmSink& sink) override;
  std::function<void()> RenderAsync(const RenderRequest& request,
                                    const v1::AudioStreamFormat& native_format,
                                    RenderCallbacks callbacks) override;

 private:
  OpenAiTtsEngine(OpenAiTtsOptions options, std::vector<v1::Voice> voices)
      : options_(std::move(options)), voices_(std::move(voices)) {}

  const OpenAiTtsOptions options_;
  const std::vector<v1::Voice> voices_;
};

}  // namespace voxflow::tts

#endif  // VOXFLOW_SERVICES_TTS_OPENAI_TTS_ENGINE_H_
