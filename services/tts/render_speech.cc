#include "services/tts/render_speech.h"

#include "services/tts/espeak_engine.h"
#include "services/tts/tts_session.h"

namespace voxflow::tts {

absl::StatusOr<std::string> RenderSpeech(const std::string& text, int sample_rate,
                                         int trailing_silence_ms) {
  absl::StatusOr<std::unique_ptr<EspeakEngine>> engine = EspeakEngine::Create();
  if (!engine.ok()) return engine.status();
  v1::SynthesisConfig config;
  config.set_language("en-US");
  config.mutable_output_format()->set_format(v1::PCM16);
  config.mutable_output_format()->set_sample_rate(sample_rate);
  config.mutable_output_format()->set_channels(1);
  std::string audio;
  absl::StatusOr<std::unique_ptr<TtsSession>> session = TtsSession::Create(
      engine->get(), config, [&](v1::SynthesizeResponse r) { audio += r.audio().data(); },
      TtsLimits{.max_piece_bytes = 100000});
  if (!session.ok()) return session.status();
  v1::TextPiece piece;
  piece.set_text(text);
  if (absl::Status s = (*session)->PushText(piece); !s.ok()) return s;
  if (absl::Status s = (*session)->Finish(); !s.ok()) return s;
  audio.append(static_cast<size_t>(sample_rate) * 2 * trailing_silence_ms / 1000, '\0');
  return audio;
}

}  // namespace voxflow::tts
