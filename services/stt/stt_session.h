// SttSession: one recognition stream's logic, independent of gRPC and of the engine: validates the
// config and every chunk against it (precise INVALID_ARGUMENT messages), converts audio to the
// engine's format, and passes results on. Runs on the caller's thread (a worker, never gRPC's).
#ifndef VOXFLOW_SERVICES_STT_STT_SESSION_H_
#define VOXFLOW_SERVICES_STT_STT_SESSION_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/common/audio_converter.h"
#include "services/common/opus_codec.h"
#include "services/stt/stt_engine.h"

namespace voxflow::stt {

struct SttLimits {
  size_t max_chunk_bytes = 256 * 1024;
  int max_silence_ms = 10000;
  int max_utterance_ms = 300000;
};

class SttSession {
 public:
  // INVALID_ARGUMENT naming the field if `config` is not acceptable. `engine` must outlive it.
  static absl::StatusOr<std::unique_ptr<SttSession>> Create(SttEngine* engine,
                                                            const v1::RecognitionConfig& config,
                                                            ResultSink sink, SttLimits limits = {});
  // Checks `config` without opening anything.
  static absl::Status ValidateConfig(const SttEngine& engine, const v1::RecognitionConfig& config,
                                     const SttLimits& limits);

  absl::Status PushAudio(const v1::AudioChunk& chunk);
  // End of input: `done` runs (on any thread) once the final result went to the sink.
  void Finish(Recognizer::Done done);
  // Finish, waiting on this thread (a unary Recognize).
  absl::Status FinishAndWait();
  // Any thread: stops the engine's work at once.
  void Cancel();

  double audio_ms() const { return audio_ms_; }

 private:
  SttSession(v1::RecognitionConfig config, v1::AudioStreamFormat wire_format, SttLimits limits)
      : config_(std::move(config)), wire_format_(std::move(wire_format)), limits_(limits) {}

  const v1::RecognitionConfig config_;       // Its audio_format as handled (Opus decoded).
  const v1::AudioStreamFormat wire_format_;  // What the chunks arrive in.
  const SttLimits limits_;
  std::unique_ptr<OpusStreamDecoder> opus_;  // For an OPUS stream.
  std::unique_ptr<AudioConverter> converter_;
  std::unique_ptr<Recognizer> recognizer_;
  double audio_ms_ = 0;
  bool finished_ = false;
  std::atomic<bool> cancelled_{false};
};

}  // namespace voxflow::stt

#endif  // VOXFLOW_SERVICES_STT_STT_SESSION_H_
