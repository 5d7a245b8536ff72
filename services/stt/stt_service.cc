#include "services/stt/stt_service.h"

#include <chrono>
#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "services/common/audio_chunk.h"
#include "services/common/logging.h"
#include "services/common/stream_reactor.h"
#include "spdlog/spdlog.h"

namespace voxflow::stt {

absl::Status CheckProvider(const SttEngine& engine, const v1::RecognitionConfig& config) {
  if (!config.provider().empty() && config.provider() != engine.name()) {
    return absl::InvalidArgumentError(absl::StrCat("config.provider '", config.provider(),
                                                   "' is not served here (this server runs '",
                                                   engine.name(), "')"));
  }
  return absl::OkStatus();
}

// One StreamingRecognize call.
class RecognizeStream final : public StreamReactor<v1::RecognizeRequest, v1::RecognizeResponse> {
 public:
  RecognizeStream(SttService* service, uint64_t id)
      : StreamReactor(service->pool_), service_(service), id_(id),
        start_(std::chrono::steady_clock::now()) {}

 private:
  absl::Status HandleRequest(v1::RecognizeRequest request) override {
    switch (request.request_case()) {
      case v1::RecognizeRequest::kConfig: {
        if (session_ != nullptr) {
          return absl::InvalidArgumentError(
              "config sent twice: only the first request may be a RecognitionConfig");
        }
        if (absl::Status s = CheckProvider(*service_->engine_, request.config()); !s.ok()) return s;
        absl::StatusOr<std::unique_ptr<SttSession>> session = SttSession::Create(
            service_->engine_, request.config(),
            [this](v1::RecognizeResponse response) {
              ++results_;
              Send(std::move(response));
            },
            service_->options_.limits);
        if (!session.ok()) return session.status();
        std::lock_guard<std::mutex> lock(session_mu_);
        session_ = *std::move(session);
        if (cancelled()) session_->Cancel();
        return absl::OkStatus();
      }
      case v1::RecognizeRequest::kAudio:
        if (session_ == nullptr) {
          return absl::InvalidArgumentError(
              "audio before config: the first request must be a RecognitionConfig");
        }
        if (!logged_audio_ && spdlog::should_log(spdlog::level::debug)) {
          logged_audio_ = true;  // Binary-safe: a size and a base64 sample, never raw bytes.
          spdlog::debug("stt stream {} first audio {}", id_, AudioForLog(request.audio().data()));
        }
        return session_->PushAudio(request.audio());
      case v1::RecognizeRequest::kEndOfInput:
        if (absl::Status s = HandleEndOfInput(); !s.ok()) return s;
        EndStream(absl::OkStatus());
        return absl::OkStatus();
      default:
        return absl::InvalidArgumentError("empty request: set config, audio or end_of_input");
    }
  }

  absl::Status HandleEndOfInput() override {
    if (session_ == nullptr) {
      return absl::InvalidArgumentError("stream ended before a RecognitionConfig was sent");
    }
    return session_->Finish();
  }

  void HandleCancel() override {
    std::lock_guard<std::mutex> lock(session_mu_);
    if (session_ != nullptr) session_->Cancel();
  }

  void HandleDone(const absl::Status& status) override {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    spdlog::info("stt stream {} provider={} audio_ms={:.0f} results={} duration_s={:.3f} outcome={}",
                 id_, service_->engine_->name(), session_ ? session_->audio_ms() : 0.0,
                 results_.load(), seconds, status.ok() ? "OK" : status.ToString());
    --service_->active_streams_;
  }

  SttService* const service_;
  const uint64_t id_;
  const std::chrono::steady_clock::time_point start_;
  std::mutex session_mu_;  // Guards session_ against HandleCancel; the strand owns it otherwise.
  std::unique_ptr<SttSession> session_;
  std::atomic<int> results_{0};
  bool logged_audio_ = false;
};

grpc::ServerBidiReactor<v1::RecognizeRequest, v1::RecognizeResponse>*
SttService::StreamingRecognize(grpc::CallbackServerContext*) {
  const int active = ++active_streams_;
  auto stream = std::make_shared<RecognizeStream>(this, next_stream_id_++);
  stream->Start(active > options_.max_streams
                    ? absl::ResourceExhaustedError(absl::StrCat(
                          "too many concurrent streams (limit ", options_.max_streams, ")"))
                    : absl::OkStatus());
  return stream.get();
}

grpc::ServerUnaryReactor* SttService::Recognize(grpc::CallbackServerContext* context,
                                                const v1::RecognizeClipRequest* request,
                                                v1::RecognizeClipResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  pool_->Submit([this, reactor, request, response] {
    auto run = [&]() -> absl::Status {
      if (absl::Status s = CheckProvider(*engine_, request->config()); !s.ok()) return s;
      if (request->audio().empty()) return absl::InvalidArgumentError("audio is empty");
      if (request->audio().size() > options_.max_clip_bytes) {
        return absl::InvalidArgumentError(absl::StrCat("audio of ", request->audio().size(),
                                                       " bytes exceeds the limit of ",
                                                       options_.max_clip_bytes));
      }
      absl::StatusOr<std::unique_ptr<SttSession>> session = SttSession::Create(
          engine_, request->config(),
          [response](v1::RecognizeResponse r) {
            if (r.has_transcript() && r.transcript().is_final()) {
              *response->add_results() = std::move(*r.mutable_transcript());
            }
          },
          options_.limits);
      if (!session.ok()) return session.status();
      const v1::AudioStreamFormat& format = request->config().audio_format();
      const size_t piece = *BytesForDuration(100, format);
      if (request->audio().size() % static_cast<size_t>(*BytesPerFrame(format)) != 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "audio of ", request->audio().size(), " bytes is not a whole number of frames"));
      }
      v1::AudioChunk chunk;
      chunk.set_format(format.format());
      chunk.set_sample_rate(format.sample_rate());
      chunk.set_channels(format.channels());
      for (size_t at = 0; at < request->audio().size(); at += piece) {
        chunk.set_data(request->audio().substr(at, piece));
        if (absl::Status s = (*session)->PushAudio(chunk); !s.ok()) return s;
      }
      return (*session)->Finish();
    };
    reactor->Finish(ToGrpcStatus(run()));
  });
  return reactor;
}

}  // namespace voxflow::stt
