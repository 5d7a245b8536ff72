#include "services/stt/stt_session.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/audio_chunk.h"
#include "services/common/logging.h"

namespace voxflow::stt {

absl::Status SttSession::ValidateConfig(const SttEngine& engine,
                                        const v1::RecognitionConfig& config,
                                        const SttLimits& limits) {
  if (absl::Status s = ValidateStreamFormat(config.audio_format(), "config.audio_format");
      !s.ok()) {
    return s;
  }
  const std::string language = absl::AsciiStrToLower(config.language());
  if (language.empty()) return absl::InvalidArgumentError("config.language is required");
  bool known = false;
  for (const std::string& l : engine.Languages()) known |= absl::AsciiStrToLower(l) == language;
  if (!known) {
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
  std::unique_ptr<SttSession> session(new SttSession(config, limits));
  absl::StatusOr<std::unique_ptr<AudioConverter>> converter =
      AudioConverter::Create(config.audio_format(), engine->NativeFormat(config.audio_format()));
  if (!converter.ok()) return converter.status();
  session->converter_ = *std::move(converter);
  absl::StatusOr<std::unique_ptr<Recognizer>> recognizer =
      engine->Open(config, std::move(sink), &session->cancelled_);
  if (!recognizer.ok()) return recognizer.status();
  session->recognizer_ = *std::move(recognizer);
  return session;
}

absl::Status SttSession::PushAudio(const v1::AudioChunk& chunk) {
  if (cancelled_) return absl::CancelledError("recognition cancelled");
  if (finished_) return absl::FailedPreconditionError("audio after end of input");
  if (absl::Status s = ValidateChunk(chunk, config_.audio_format(), limits_.max_chunk_bytes);
      !s.ok()) {
    return s;
  }
  audio_ms_ += *DurationMs(chunk.data().size(), config_.audio_format());
  absl::StatusOr<std::string> native = converter_->Convert(chunk.data());
  if (!native.ok()) return native.status();
  if (native->empty()) return absl::OkStatus();
  return recognizer_->Process(*native);
}

absl::Status SttSession::Finish() {
  if (cancelled_) return absl::CancelledError("recognition cancelled");
  if (finished_) return absl::OkStatus();
  finished_ = true;
  const std::string tail = converter_->Flush();
  if (!tail.empty()) {
    if (absl::Status s = recognizer_->Process(tail); !s.ok()) return s;
  }
  return recognizer_->Finish();
}

}  // namespace voxflow::stt
