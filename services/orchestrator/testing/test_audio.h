// Audio for the orchestrator's tests: 16 kHz mono PCM16 voice (a loud square wave) and silence,
// a voice activity detector that hears loud samples as voice, and a reply playout over a buffer
// that holds what it is given.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_TESTING_TEST_AUDIO_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_TESTING_TEST_AUDIO_H_

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "services/orchestrator/listening/voice_activity_detector.h"

namespace voxflow::orchestrator::testing {

constexpr size_t kChunk = 640;  // 20 ms of 16 kHz mono PCM16.

// Caller audio as a client sends it: `pcm` (16 kHz mono PCM16) with its sequence number.
inline v1::AudioChunk Pcm16kChunk(std::string pcm, uint64_t sequence) {
  v1::AudioChunk chunk;
  chunk.set_data(std::move(pcm));
  chunk.set_format(v1::PCM16);
  chunk.set_sample_rate(16000);
  chunk.set_channels(1);
  chunk.set_sequence(sequence);
  return chunk;
}

// `ms` of voice: loud enough for LoudnessVad (and WebRTC's detector).
inline std::string Voice(int ms) {
  std::string pcm;
  for (int i = 0; i < 16 * ms; ++i) {
    const int16_t v = i % 2 ? 8000 : -8000;
    pcm.append(reinterpret_cast<const char*>(&v), 2);
  }
  return pcm;
}
inline std::string Silence(int ms) { return std::string(32 * ms, '\0'); }

// Voice is any sample louder than 1000: the test decides what the detector hears.
class LoudnessVad final : public VoiceActivityDetector {
 public:
  bool IsSpeech(absl::string_view frame) override {
    for (size_t i = 0; i + 1 < frame.size(); i += 2) {
      int16_t v;
      std::memcpy(&v, frame.data() + i, 2);
      if (std::abs(v) > 1000) return true;
    }
    return false;
  }
};

}  // namespace voxflow::orchestrator::testing

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_TESTING_TEST_AUDIO_H_
