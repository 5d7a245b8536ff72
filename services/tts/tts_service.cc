#include "services/tts/tts_service.h"

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/audio_chunk.h"
#include "services/common/logging.h"
#include "services/common/speech_stream.h"
#include "services/common/stream_reactor.h"
#include "spdlog/spdlog.h"

namespace voxflow::tts {

// One StreamingSynthesize call.
class SynthesizeStream final
    : public SpeechStream<v1::SynthesizeRequest, v1::SynthesizeResponse, TtsSession> {
 public:
  SynthesizeStream(SpeechStreams* streams, uint64_t id, std::string client, TtsEngine* engine,
                   WorkerPool* pool, const TtsServiceOptions* options)
      : SpeechStream(streams, id, std::move(client), pool, options->max_unread_bytes,
                     "SynthesisConfig"),
        engine_(engine),
        options_(options) {}

 private:
  absl::Status HandleRequest(v1::SynthesizeRequest request) override {
    switch (request.request_case()) {
      case v1::SynthesizeRequest::kConfig:
        return StartSession([&]() -> absl::StatusOr<std::unique_ptr<TtsSession>> {
          if (absl::Status s = engine_->CheckProvider(request.config().provider()); !s.ok()) {
            return s;
          }
          absl::StatusOr<std::unique_ptr<TtsSession>> session = TtsSession::Create(
              engine_, request.config(),
              [this](v1::SynthesizeResponse response) { Send(std::move(response)); },
              options_->limits);
          if (!session.ok()) return session.status();
          // A remote provider's failure comes later, on its thread: it ends the stream.
          std::weak_ptr<SynthesizeStream> weak =
              std::static_pointer_cast<SynthesizeStream>(this->shared_from_this());
          (*session)->SetFailureHandler([weak](const absl::Status& status) {
            if (auto self = weak.lock()) self->EndStream(status);
          });
          return session;
        });
      case v1::SynthesizeRequest::kText: {
        absl::StatusOr<TtsSession*> session = RequireSession("text");
        return session.ok() ? (*session)->PushText(request.text()) : session.status();
      }
      case v1::SynthesizeRequest::kFlush: {
        absl::StatusOr<TtsSession*> session = RequireSession("flush");
        return session.ok() ? (*session)->Flush() : session.status();
      }
      case v1::SynthesizeRequest::kEndOfInput:
        return EndOfInput();
      default:
        return absl::InvalidArgumentError("empty request: set config, text, flush or end_of_input");
    }
  }

  // Every sentence is spoken first, which a remote provider does later, on its own thread.
  void FinishSession(std::function<void(const absl::Status&)> done) override {
    session()->FinishAsync(std::move(done));
  }

  void LogDone(const absl::Status& status) override {
    spdlog::info("tts stream {} provider={} voice={} audio_bytes={} duration_s={:.3f} outcome={}",
                 id(), engine_->name(), session() ? session()->voice() : "",
                 session() ? session()->audio_bytes_sent() : 0, elapsed_seconds(),
                 status.ok() ? "OK" : status.ToString());
  }

  TtsEngine* const engine_;
  const TtsServiceOptions* const options_;
};

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* TtsService::StreamingSynthesize(
    grpc::CallbackServerContext* context) {
  return streams_.Open<SynthesizeStream>(context, engine_, pool_, &options_);
}

grpc::ServerUnaryReactor* TtsService::Synthesize(grpc::CallbackServerContext* context,
                                                 const grpc::ByteBuffer* request,
                                                 grpc::ByteBuffer* response) {
  return FinishOnPool<v1::SynthesizeClipRequest, v1::SynthesizeClipResponse>(
      context, pool_, request, response,
      [this](const v1::SynthesizeClipRequest& request, v1::SynthesizeClipResponse* response) {
        return Synthesize(request, response);
      });
}

namespace {
// Speech is never faster than this (espeak-ng's fastest rate is about 30 characters a second):
// text longer than the response allows at this rate is refused before any rendering.
constexpr double kMaxCharactersPerSecond = 40;

absl::Status ResponseTooLarge(size_t bytes, size_t limit, absl::string_view when) {
  return absl::ResourceExhaustedError(absl::StrCat(
      "the audio would exceed the largest response of ", limit, " bytes (--max_message_bytes; ",
      when, bytes, " bytes): send shorter text, or use StreamingSynthesize"));
}
}  // namespace

absl::Status TtsService::Synthesize(const v1::SynthesizeClipRequest& request,
                                    v1::SynthesizeClipResponse* response) {
  if (absl::Status s = engine_->CheckProvider(request.config().provider()); !s.ok()) {
    return s;
  }
  if (request.text().empty()) return absl::InvalidArgumentError("text is empty");
  if (request.config().output_format().format() == v1::OPUS) {
    return absl::InvalidArgumentError(
        "config.output_format OPUS: Synthesize returns one clip of samples; StreamingSynthesize "
        "sends Opus packets, one per chunk");
  }
  if (request.text().size() > options_.limits.max_stream_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("text of ", request.text().size(),
                                                   " bytes exceeds the limit of ",
                                                   options_.limits.max_stream_bytes));
  }
  v1::AudioChunk* audio = response->mutable_audio();
  TtsLimits limits = options_.limits;
  limits.max_piece_bytes = limits.max_stream_bytes;  // One piece: the whole text.
  TtsSession* rendering = nullptr;
  bool too_large = false;
  absl::StatusOr<std::unique_ptr<TtsSession>> session = TtsSession::Create(
      engine_, request.config(),
      [&](v1::SynthesizeResponse r) {
        const v1::AudioChunk& chunk = r.audio();
        audio->set_format(chunk.format());
        audio->set_sample_rate(chunk.sample_rate());
        audio->set_channels(chunk.channels());
        if (too_large) return;
        audio->mutable_data()->append(chunk.data());
        if (audio->data().size() > options_.max_response_bytes) {
          too_large = true;  // Stop rendering: this response could not be sent.
          rendering->Cancel();
        }
      },
      limits);
  if (!session.ok()) return session.status();
  rendering = session->get();
  // The least audio the text can make: refuse what cannot fit before rendering it.
  const absl::StatusOr<size_t> bytes_per_second =
      BytesForDuration(1000, (*session)->output_format());
  if (bytes_per_second.ok()) {
    const double least_seconds =
        static_cast<double>(request.text().size()) / kMaxCharactersPerSecond;
    const size_t least_bytes = static_cast<size_t>(least_seconds * *bytes_per_second);
    if (least_bytes > options_.max_response_bytes) {
      return ResponseTooLarge(least_bytes, options_.max_response_bytes, "at least ");
    }
  }
  v1::TextPiece piece;
  piece.set_text(request.text());
  absl::Status status = (*session)->PushText(piece);
  if (status.ok()) status = (*session)->Finish();
  if (too_large) {
    return ResponseTooLarge(audio->data().size(), options_.max_response_bytes, "stopped past ");
  }
  if (!status.ok()) return status;
  audio->set_is_final(true);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* TtsService::ListVoices(grpc::CallbackServerContext* context,
                                                 const grpc::ByteBuffer* request_bytes,
                                                 grpc::ByteBuffer* response_bytes) {
  grpc::ByteBuffer bytes(*request_bytes);
  v1::ListVoicesRequest request;
  absl::Status status = ParseRequest(&bytes, &request, "request");
  if (status.ok()) {
    v1::ListVoicesResponse response;
    const std::string wanted = absl::AsciiStrToLower(request.language());
    for (const v1::Voice& voice : engine_->Voices()) {
      bool match = wanted.empty();
      for (const std::string& language : voice.languages()) {
        match |= absl::StartsWith(absl::AsciiStrToLower(language), wanted);
      }
      if (match) *response.add_voices() = voice;
    }
    *response_bytes = SerializeResponse(response);
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace voxflow::tts
