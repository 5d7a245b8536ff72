#include "services/stt/stt_service.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "services/common/audio_chunk.h"
#include "services/common/logging.h"
#include "services/common/stream_reactor.h"
#include "spdlog/spdlog.h"

namespace voxflow::stt {

// One StreamingRecognize call.
class RecognizeStream final
    : public SessionStreamReactor<v1::RecognizeRequest, v1::RecognizeResponse, SttSession> {
 public:
  RecognizeStream(SttService* service, uint64_t id, std::string client)
      : SessionStreamReactor(
            service->pool_,
            {.service = "stt", .max_unread_bytes = service->options_.max_unread_bytes},
            "RecognitionConfig"),
        service_(service),
        id_(id),
        client_(std::move(client)) {}

 private:
  absl::Status HandleRequest(v1::RecognizeRequest request) override {
    switch (request.request_case()) {
      case v1::RecognizeRequest::kConfig: {
        if (absl::Status s = CheckFirstConfig(); !s.ok()) return s;
        if (absl::Status s = service_->engine_->CheckProvider(request.config().provider());
            !s.ok()) {
          return s;
        }
        absl::StatusOr<std::unique_ptr<SttSession>> session = SttSession::Create(
            service_->engine_, request.config(),
            [this](v1::RecognizeResponse response) {
              ++results_;
              Send(std::move(response));
            },
            service_->options_.limits);
        if (!session.ok()) return session.status();
        SetSession(*std::move(session));
        return absl::OkStatus();
      }
      case v1::RecognizeRequest::kAudio: {
        absl::StatusOr<SttSession*> session = RequireSession("audio");
        if (!session.ok()) return session.status();
        if (!logged_audio_ && spdlog::should_log(spdlog::level::debug)) {
          logged_audio_ = true;  // Binary-safe: a size and a base64 sample, never raw bytes.
          spdlog::debug("stt stream {} first audio {}", id_, AudioForLog(request.audio().data()));
        }
        return (*session)->PushAudio(request.audio());
      }
      case v1::RecognizeRequest::kEndOfInput:
        return EndOfInput();
      default:
        return absl::InvalidArgumentError("empty request: set config, audio or end_of_input");
    }
  }

  absl::Status HandleEndOfInput() override {
    if (session() == nullptr) {
      return absl::InvalidArgumentError("stream ended before a RecognitionConfig was sent");
    }
    // The stream ends when the engine has answered, which a remote provider does later, on
    // another thread (no thread waits for it).
    auto self = this->shared_from_this();
    session()->Finish([this, self](const absl::Status& status) { EndStream(status); });
    return absl::OkStatus();
  }

  bool EndsOnEndOfInput() const override { return false; }

  void HandleDone(const absl::Status& status) override {
    spdlog::info(
        "stt stream {} provider={} audio_ms={:.0f} results={} duration_s={:.3f} outcome={}", id_,
        service_->engine_->name(), session() ? session()->audio_ms() : 0.0, results_.load(),
        elapsed_seconds(), status.ok() ? "OK" : status.ToString());
    service_->stream_limit_.Release(client_);
  }

  SttService* const service_;
  const uint64_t id_;
  const std::string client_;
  std::atomic<int> results_{0};
  bool logged_audio_ = false;
};

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* SttService::StreamingRecognize(
    grpc::CallbackServerContext* context) {
  std::string client = ClientKey(*context);
  auto stream = std::make_shared<RecognizeStream>(this, next_stream_id_++, client);
  stream->SetLogContextFrom(*context);
  stream->Start(context, stream_limit_.Admit(client));
  return stream.get();
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
