#include "mocks/mock_tts_engine.h"

#include <cmath>

#include "mocks/cancellable_wait.h"
#include "services/common/audio_chunk.h"
#include "services/common/sample_format.h"

namespace voxflow::mocks {
std::vector<v1::Voice> MockTtsEngine::Voices() const {
  std::vector<v1::Voice> voices;
  for (const auto& [name, language] : {std::pair<const char*, const char*>{"mock-en-us", "en-US"},
                                       {"mock-en-gb", "en-GB"},
                                       {"mock-de", "de-DE"}}) {
    v1::Voice voice;
    voice.set_name(name);
    voice.add_languages(language);
    voice.set_provider("mock");
    voices.push_back(voice);
  }
  return voices;
}

std::string MockTtsEngine::AudioFor(const std::string& text, int bytes_per_char,
                                    const v1::AudioStreamFormat& format) {
  const int frame = *BytesPerFrame(format);
  const int sample = *BytesPerSample(format.format());
  const size_t frames_per_char = static_cast<size_t>(bytes_per_char / frame);
  std::string out(text.size() * frames_per_char * frame, '\0');
  size_t n = 0;
  for (unsigned char c : text) {
    const double hz = 200 + (c % 32) * 20;
    for (size_t i = 0; i < frames_per_char; ++i, ++n) {
      const float v = 0.3f * static_cast<float>(std::sin(2 * M_PI * hz * n / format.sample_rate()));
      for (int ch = 0; ch < format.channels(); ++ch) {
        EncodeSample(format.format(), v, &out[n * frame + ch * sample]);
      }
    }
  }
  return out;
}

absl::Status MockTtsEngine::Render(const tts::RenderRequest& request,
                                   const v1::AudioStreamFormat& native_format,
                                   const tts::PcmSink& sink) {
  bool fail = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fail = std::uniform_real_distribution<double>(0, 1)(rng_) < options_.fail_rate;
  }
  if (options_.hang) {
    while (CancellableWait(50, request.cancelled)) {
    }
    return absl::CancelledError("mock TTS hang cancelled");
  }
  if (!CancellableWait(options_.latency_ms, request.cancelled))
    return absl::CancelledError("cancelled");
  if (fail) return absl::UnavailableError("mock TTS failure (fail_rate)");

  const std::string audio = AudioFor(request.text, options_.bytes_per_char, native_format);
  const size_t per_char = audio.size() / std::max<size_t>(request.text.size(), 1);
  const size_t chunk = per_char * static_cast<size_t>(std::max(options_.chars_per_chunk, 1));
  int chunks = 0;
  for (size_t at = 0; at < audio.size(); at += chunk) {
    if (options_.fail_after_chunks >= 0 && chunks == options_.fail_after_chunks) {
      return absl::UnavailableError("mock TTS failure after " + std::to_string(chunks) + " chunks");
    }
    if (options_.chunk_delay_ms > 0 &&
        !CancellableWait(options_.chunk_delay_ms, request.cancelled)) {
      return absl::CancelledError("cancelled");
    }
    if (!sink(absl::string_view(audio).substr(at, chunk))) return absl::CancelledError("stopped");
    ++chunks;
  }
  return absl::OkStatus();
}

}  // namespace voxflow::mocks
