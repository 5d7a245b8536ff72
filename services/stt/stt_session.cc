#include "services/stt/stt_session.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/audio_chunk.h"
#include "services/common/logging.h"
#include "services/common/notification.h"

namespace voxflow::stt {

absl::Status SttSession::ValidateConfig(const SttEngine& engine,
                                        const v1::RecognitionConfig& config,
                                        const SttLimits& limits) {
  if (absl::Status s = ValidateWireFormat(config.audio_format(), "config.audio_format"); !s.ok()) {
    return s;
  }
  if (config.language().empty()) return absl::InvalidArgumentError("config.language is required");
  if (!engine.SupportsLanguage(config.language())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config.language ", QuoteClientValue(config.language()), " is not supported by ",
        engine.name(), " (supported: ", absl::StrJoin(engine.Languages(), ", "), ")"));
  }
  const v1::EndpointingConfig& e = config.endpointing();
  if (e.silence_ms() < 0 || e.silence_ms() > limits.max_silence_ms) {
    return absl::InvalidArgumentError(absl::StrCat("config.endpointing.silence_ms ", e.silence_ms(),
                                                   " is not supported (0..", limits.max_silence_ms,
                                                   ")"));
  }
  if (e.min_speech_ms() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.endpointing.min_speech_ms ", e.min_speech_ms(), " is negative"));
  }
  if (e.max_utterance_ms() < 0 || e.max_utterance_ms() > limits.max_utterance_ms) {
    return absl::InvalidArgumentError(absl::StrCat("config.endpointing.max_utterance_ms ",
                                                   e.max_utterance_ms(), " is not supported (0..",
                                                   limits.max_utterance_ms, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SttSession>> SttSession::Create(SttEngine* engine,
                                                               const v1::RecognitionConfig& config,
                                                               ResultSink sink, SttLimits limits) {
  if (absl::Status s = ValidateConfig(*engine, config, limits); !s.ok()) return s;
  // Opus packets are decoded on arrival: past that the session, the converter and the engine
  // see PCM16 at the stream's rate.
  v1::RecognitionConfig decoded = config;
  *decoded.mutable_audio_format() = DecodedFormat(config.audio_format());
  std::unique_ptr<SttSession> session(new SttSession(decoded, config.audio_format(), limits));
  if (config.audio_format().format() == v1::OPUS) {
    absl::StatusOr<std::unique_ptr<OpusStreamDecoder>> decoder =
        OpusStreamDecoder::Create(config.audio_format());
    if (!decoder.ok()) return decoder.status();
    session->opus_ = *std::move(decoder);
  }
  absl::StatusOr<std::unique_ptr<AudioConverter>> converter =
      AudioConverter::Create(decoded.audio_format(), engine->NativeFormat(decoded.audio_format()));
  if (!converter.ok()) return converter.status();
  session->converter_ = *std::move(converter);
  absl::StatusOr<std::unique_ptr<Recognizer>> recognizer =
      engine->Open(decoded, std::move(sink), &session->cancelled_);
  if (!recognizer.ok()) return recognizer.status();
  session->recognizer_ = *std::move(recognizer);
  return session;
}

absl::Status SttSession::PushAudio(const v1::AudioChunk& chunk) {
  if (cancelled_) return absl::CancelledError("recognition cancelled");
  if (finished_) return absl::FailedPreconditionError("audio after end of input");
  if (absl::Status s = ValidateChunk(chunk, wire_format_, limits_.max_chunk_bytes); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::string> decoded;
  if (opus_ != nullptr) {
    decoded = opus_->Decode(chunk.data(), chunk.sequence());
    if (!decoded.ok()) return decoded.status();
  }
  const std::string& pcm = opus_ != nullptr ? *decoded : chunk.data();
  audio_ms_ += *DurationMs(pcm.size(), config_.audio_format());
  absl::StatusOr<std::string> native = converter_->Convert(pcm);
  if (!native.ok()) return native.status();
  if (native->empty()) return absl::OkStatus();
  return recognizer_->Process(*native);
}

void SttSession::Finish(Recognizer::Done done) {
  if (cancelled_) return done(absl::CancelledError("recognition cancelled"));
  if (finished_) return done(absl::OkStatus());
  finished_ = true;
  const std::string tail = converter_->Flush();
  if (!tail.empty()) {
    if (absl::Status s = recognizer_->Process(tail); !s.ok()) return done(s);
  }
  recognizer_->FinishAsync(std::move(done));
}

absl::Status SttSession::FinishAndWait() {
  Notification finished;
  absl::Status result;
  Finish([&](const absl::Status& status) {
    result = status;
    finished.Notify();
  });
  finished.WaitForNotification();
  return result;
}

void SttSession::Cancel() {
  cancelled_ = true;
  if (recognizer_ != nullptr) recognizer_->Cancel();
}

}  // namespace voxflow::stt
