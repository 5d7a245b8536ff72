// OpenAiSttEngine: the `openai` STT provider — any server that speaks OpenAI's
// POST /audio/transcriptions (OpenAI, Groq, whisper.cpp's server, speaches/faster-whisper, vLLM).
// An utterance is the stream's audio up to its end of input (the orchestrator's endpointing):
// it is uploaded as one 16 kHz mono WAV when the input ends, or in pieces cut at silences when it
// is longer than the server takes. verbose_json gives word timings where the server offers it
// (else json); with interim results asked for and `stream` on, the server's transcript.text.delta
// events become interim results. Requests run on the process's CurlLoop: no thread waits on them.
#ifndef VOXFLOW_SERVICES_STT_OPENAI_STT_ENGINE_H_
#define VOXFLOW_SERVICES_STT_OPENAI_STT_ENGINE_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "services/common/providers/remote_request.h"
#include "services/stt/stt_engine.h"

namespace voxflow::stt {

struct OpenAiSttOptions {
  RemoteServerOptions server;
  // "verbose_json" (words and segments; downgraded to "json" for good when the server refuses
  // it) or "json".
  std::string response_format = "verbose_json";
  // Ask for stream=true when a stream wants interim results (servers that cannot stream answer
  // a whole body, and then there are none).
  bool stream = true;
  // Longest audio in one request: OpenAI takes files up to 25 MB (819 s of 16 kHz PCM16).
  int max_audio_s = 600;
  // BCP-47 tags accepted; empty: every language Whisper knows (by its primary subtag).
  std::vector<std::string> languages;
};

class OpenAiSttEngine final : public SttEngine {
 public:
  explicit OpenAiSttEngine(OpenAiSttOptions options);

  std::string name() const override { return "openai"; }
  std::vector<std::string> Languages() const override;
  bool SupportsLanguage(absl::string_view language) const override;
  v1::AudioStreamFormat NativeFormat(const v1::AudioStreamFormat& input) const override;
  absl::StatusOr<std::unique_ptr<Recognizer>> Open(const v1::RecognitionConfig& config,
                                                   ResultSink sink,
                                                   const std::atomic<bool>* cancelled) override;

  const OpenAiSttOptions& options() const { return options_; }
  // Whether verbose_json is still asked for.
  bool verbose() const { return verbose_; }
  void RefuseVerbose() { verbose_ = false; }

 private:
  const OpenAiSttOptions options_;
  std::atomic<bool> verbose_;
};

}  // namespace voxflow::stt

#endif  // VOXFLOW_SERVICES_STT_OPENAI_STT_ENGINE_H_
