// MockSttEngine: a deterministic stand-in for a speech recognizer (Stageflow's MockSTTProvider).
// - `transcriptions` are returned in turn (cycled; default "Mock transcription"), shared by all
//   streams of one engine.
// - `audio_map` maps an utterance's audio hash to its text; a hit does not advance the cycle. The
//   hash is the first 16 lowercase hex characters of the MD5 of the utterance's PCM bytes
//   (AudioHash), so a test can script what a given clip "says".
// - Results come `latency_ms` ± `latency_jitter_ms` after end of input; confidence is drawn from
//   [0.85, 0.99]; both from a generator seeded with `seed`.
// - With interim results on, the next transcription is revealed a word at a time while audio
//   streams (one word per `interim_every_ms` of audio).
// - Fault injection: `fail_rate`, failure after N chunks, hanging, slowness.
// The whole stream is one utterance, ended by end of input.
#ifndef VOXFLOW_MOCKS_MOCK_STT_ENGINE_H_
#define VOXFLOW_MOCKS_MOCK_STT_ENGINE_H_

#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "services/stt/stt_engine.h"

namespace voxflow::mocks {

struct MockSttOptions {
  // Returned in turn; "{bytes}" becomes the number of audio bytes the stream carried.
  std::vector<std::string> transcriptions = {"Mock transcription"};
  std::map<std::string, std::string> audio_map;
  int latency_ms = 100;
  int latency_jitter_ms = 20;
  double fail_rate = 0;
  int interim_every_ms = 200;
  int fail_after_chunks = -1;  // Fail on this chunk (-1: never).
  bool hang = false;           // Never answer (until cancelled).
  int chunk_delay_ms = 0;      // Slowness: a pause on every chunk.
  uint32_t seed = 42;
};

// First 16 lowercase hex characters of the MD5 of `pcm`.
std::string AudioHash(absl::string_view pcm);

class MockSttEngine final : public stt::SttEngine {
 public:
  explicit MockSttEngine(MockSttOptions options = {});

  std::string name() const override { return "mock"; }
  std::vector<std::string> Languages() const override {
    return {"en-US", "en-GB", "de-DE", "fr-FR", "es-ES"};
  }
  v1::AudioStreamFormat NativeFormat(const v1::AudioStreamFormat& input) const override {
    return input;
  }
  absl::StatusOr<std::unique_ptr<stt::Recognizer>> Open(
      const v1::RecognitionConfig& config, stt::ResultSink sink,
      const std::atomic<bool>* cancelled) override;

  // For recognizers: the next transcription without taking it, and taking it.
  std::string PeekNext();
  std::string Take(const std::string& audio_hash);
  // Draws (latency_ms, confidence, fails) for one result.
  struct Draw {
    int latency_ms;
    float confidence;
    bool fail;
  };
  Draw DrawResult();
  const MockSttOptions& options() const { return options_; }

 private:
  const MockSttOptions options_;
  std::mutex mu_;
  size_t next_ = 0;
  std::mt19937 rng_;
};

}  // namespace voxflow::mocks

#endif  // VOXFLOW_MOCKS_MOCK_STT_ENGINE_H_
