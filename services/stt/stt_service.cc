#include "services/stt/stt_service.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "services/common/audio_chunk.h"
#include "services/common/logging.h"
#include "services/common/speech_stream.h"
#include "services/common/stream_reactor.h"
#include "spdlog/spdlog.h"

namespace voxflow::stt {

// One StreamingRecognize call.
class RecognizeStream final
    : public SpeechStream<v1::RecognizeRequest, v1::RecognizeResponse, SttSession> {
 public:
  RecognizeStream(SpeechStreams* streams, uint64_t id, std::string client, SttEngine* engine,
                  WorkerPool* pool, const SttServiceOptions* options)
      : SpeechStream(streams, id, std::move(client), pool, options->max_unread_bytes,
                     "RecognitionConfig"),
        engine_(engine),
        options_(options) {}

 private:
  absl::Status HandleRequest(v1::RecognizeRequest request) override {
    switch (request.request_case()) {
      case v1::RecognizeRequest::kConfig:
        return StartSession([&]() -> absl::StatusOr<std::unique_ptr<SttSession>> {
          if (absl::Status s = engine_->CheckProvider(request.config().provider()); !s.ok()) {
            return s;
          }
          return SttSession::Create(
              engine_, request.config(),
              [this](v1::RecognizeResponse response) {
                ++results_;
                Send(std::move(response));
              },
              options_->limits);
        });
      case v1::RecognizeRequest::kAudio: {
        absl::StatusOr<SttSession*> session = RequireSession("audio");
        if (!session.ok()) return session.status();
        if (!logged_audio_ && spdlog::should_log(spdlog::level::debug)) {
          logged_audio_ = true;  // Binary-safe: a size and a base64 sample, never raw bytes.
          spdlog::debug("stt stream {} first audio {}", id(), AudioForLog(request.audio().data()));
        }
        return (*session)->PushAudio(request.audio());
      }
      case v1::RecognizeRequest::kEndOfInput:
        return EndOfInput();
      default:
        return absl::InvalidArgumentError("empty request: set config, audio or end_of_input");
    }
  }

  void FinishSession(std::function<void(const absl::Status&)> done) override {
    session()->Finish(std::move(done));
  }

  void LogDone(const absl::Status& status) override {
    spdlog::info(
        "stt stream {} provider={} audio_ms={:.0f} results={} duration_s={:.3f} outcome={}", id(),
        engine_->name(), session() ? session()->audio_ms() : 0.0, results_.load(),
        elapsed_seconds(), status.ok() ? "OK" : status.ToString());
  }

  SttEngine* const engine_;
  const SttServiceOptions* const options_;
  std::atomic<int> results_{0};
  bool logged_audio_ = false;
};

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* SttService::StreamingRecognize(
    grpc::CallbackServerContext* context) {
  return streams_.Open<RecognizeStream>(context, engine_, pool_, &options_);
}

grpc::ServerUnaryReactor* SttService::Recognize(grpc::CallbackServerContext* context,
                                                const grpc::ByteBuffer* request,
                                                grpc::ByteBuffer* response) {
  return FinishOnPool<v1::RecognizeClipRequest, v1::RecognizeClipResponse>(
      context, pool_, request, response,
      [this](const v1::RecognizeClipRequest& request, v1::RecognizeClipResponse* response) {
        return Recognize(request, response);
      });
}

absl::Status SttService::Recognize(const v1::RecognizeClipRequest& request,
                                   v1::RecognizeClipResponse* response) {
  if (absl::Status s = engine_->CheckProvider(request.config().provider()); !s.ok()) return s;
  if (request.audio().empty()) return absl::InvalidArgumentError("audio is empty");
  if (request.config().audio_format().format() == v1::OPUS) {
    return absl::InvalidArgumentError(
        "config.audio_format OPUS: Recognize takes one clip of samples; send Opus packets one "
        "per chunk over StreamingRecognize");
  }
  if (request.audio().size() > options_.max_clip_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("audio of ", request.audio().size(),
                                                   " bytes exceeds the limit of ",
                                                   options_.max_clip_bytes));
  }
  absl::StatusOr<std::unique_ptr<SttSession>> session = SttSession::Create(
      engine_, request.config(),
      [response](v1::RecognizeResponse r) {
        if (r.has_transcript() && r.transcript().is_final()) {
          *response->add_results() = std::move(*r.mutable_transcript());
        }
      },
      options_.limits);
  if (!session.ok()) return session.status();
  const v1::AudioStreamFormat& format = request.config().audio_format();
  const size_t piece = *BytesForDuration(100, format);
  if (request.audio().size() % static_cast<size_t>(*BytesPerFrame(format)) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("audio of ", request.audio().size(),
                                                   " bytes is not a whole number of frames"));
  }
  v1::AudioChunk chunk;
  chunk.set_format(format.format());
  chunk.set_sample_rate(format.sample_rate());
  chunk.set_channels(format.channels());
  for (size_t at = 0; at < request.audio().size(); at += piece) {
    chunk.set_data(request.audio().substr(at, piece));
    if (absl::Status s = (*session)->PushAudio(chunk); !s.ok()) return s;
  }
  return (*session)->FinishAndWait();
}

}  // namespace voxflow::stt
