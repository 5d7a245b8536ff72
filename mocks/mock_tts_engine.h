// MockTtsEngine: a deterministic stand-in for a TTS engine (Stageflow's MockTTSProvider). The same
// text always gives the same bytes: `bytes_per_char` bytes per character of a tone whose pitch
// follows the character, rendered straight into the requested format. Fault injection for tests:
// latency, random failures from a seeded generator, failure after N chunks, hanging, slowness.
#ifndef VOXFLOW_MOCKS_MOCK_TTS_ENGINE_H_
#define VOXFLOW_MOCKS_MOCK_TTS_ENGINE_H_

#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "services/tts/tts_engine.h"

namespace voxflow::mocks {

struct MockTtsOptions {
  int bytes_per_char = 100;
  int latency_ms = 50;         // Before the first audio of each sentence.
  double fail_rate = 0;        // Share of renders that fail with UNAVAILABLE.
  int fail_after_chunks = -1;  // Fail each render after this many chunks (-1: never).
  bool hang = false;           // Never produce audio (until cancelled).
  int chunk_delay_ms = 0;      // Slowness: a pause before every chunk.
  int chars_per_chunk = 10;    // Audio is handed over every this many characters.
  uint32_t seed = 42;
};

class MockTtsEngine final : public tts::TtsEngine {
 public:
  explicit MockTtsEngine(MockTtsOptions options = {}) : options_(options), rng_(options.seed) {}

  std::string name() const override { return "mock"; }
  std::vector<v1::Voice> Voices() const override;
  v1::AudioStreamFormat NativeFormat(const std::string& /*voice*/,
                                     const v1::AudioStreamFormat& requested) const override {
    return requested;
  }
  absl::Status Render(const tts::RenderRequest& request, const v1::AudioStreamFormat& native_format,
                      const tts::PcmSink& sink) override;

  // The audio Render produces for `text`, in one piece (for tests).
  static std::string AudioFor(const std::string& text, int bytes_per_char,
                              const v1::AudioStreamFormat& format);

 private:
  const MockTtsOptions options_;
  std::mutex mu_;
  std::mt19937 rng_;
};

}  // namespace voxflow::mocks

#endif  // VOXFLOW_MOCKS_MOCK_TTS_ENGINE_H_
