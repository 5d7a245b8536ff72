#include "services/tts/tts_service.h"

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/logging.h"
#include "services/common/stream_reactor.h"
#include "spdlog/spdlog.h"

namespace voxflow::tts {
// One StreamingSynthesize call.
class SynthesizeStream final
    : public SessionStreamReactor<v1::SynthesizeRequest, v1::SynthesizeResponse, TtsSession> {
 public:
  SynthesizeStream(TtsService* service, uint64_t id)
      : SessionStreamReactor(service->pool_, "SynthesisConfig"), service_(service), id_(id) {}

 private:
  absl::Status HandleRequest(v1::SynthesizeRequest request) override {
    switch (request.request_case()) {
      case v1::SynthesizeRequest::kConfig: {
        if (absl::Status s = CheckFirstConfig(); !s.ok()) return s;
        if (absl::Status s =
                CheckServedProvider(request.config().provider(), service_->engine_->name());
            !s.ok()) {
          return s;
        }
        absl::StatusOr<std::unique_ptr<TtsSession>> session = TtsSession::Create(
            service_->engine_, request.config(),
            [this](v1::SynthesizeResponse response) { Send(std::move(response)); },
            service_->options_.limits);
        if (!session.ok()) return session.status();
        SetSession(*std::move(session));
        return absl::OkStatus();
      }
      case v1::SynthesizeRequest::kText: {
        absl::StatusOr<TtsSession*> session = RequireSession("text");
        return session.ok() ? (*session)->PushText(request.text()) : session.status();
      }
      case v1::SynthesizeRequest::kFlush: {
        absl::StatusOr<TtsSession*> session = RequireSession("flush");
        return session.ok() ? (*session)->Flush() : session.status();
      }
      case v1::SynthesizeRequest::kEndOfInput:
        if (absl::Status s = HandleEndOfInput(); !s.ok()) return s;
        EndStream(absl::OkStatus());
        return absl::OkStatus();
      default:
        return absl::InvalidArgumentError("empty request: set config, text, flush or end_of_input");
    }
  }

  absl::Status HandleEndOfInput() override {
    if (session() == nullptr) {
      return absl::InvalidArgumentError("stream ended before a SynthesisConfig was sent");
    }
    return session()->Finish();
  }

  void HandleDone(const absl::Status& status) override {
    spdlog::info("tts stream {} provider={} voice={} audio_bytes={} duration_s={:.3f} outcome={}",
                 id_, service_->engine_->name(), session() ? session()->voice() : "",
                 session() ? session()->audio_bytes_sent() : 0, elapsed_seconds(),
                 status.ok() ? "OK" : status.ToString());
    service_->stream_limit_.Release();
  }

  TtsService* const service_;
  const uint64_t id_;
};

grpc::ServerBidiReactor<v1::SynthesizeRequest, v1::SynthesizeResponse>*
TtsService::StreamingSynthesize(grpc::CallbackServerContext* context) {
  auto stream = std::make_shared<SynthesizeStream>(this, next_stream_id_++);
  stream->SetLogContextFrom(*context);
  stream->Start(stream_limit_.Admit());
  return stream.get();
}

grpc::ServerUnaryReactor* TtsService::Synthesize(grpc::CallbackServerContext* context,
                                                 const v1::SynthesizeClipRequest* request,
                                                 v1::SynthesizeClipResponse* response) {
  return FinishOnPool(context, pool_, [this, request, response]() -> absl::Status {
    if (absl::Status s = CheckServedProvider(request->config().provider(), engine_->name());
        !s.ok()) {
      return s;
    }
    if (request->text().empty()) return absl::InvalidArgumentError("text is empty");
    if (request->text().size() > options_.limits.max_stream_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("text of ", request->text().size(),
                                                     " bytes exceeds the limit of ",
                                                     options_.limits.max_stream_bytes));
    }
    v1::AudioChunk* audio = response->mutable_audio();
    TtsLimits limits = options_.limits;
    limits.max_piece_bytes = limits.max_stream_bytes;  // One piece: the whole text.
    absl::StatusOr<std::unique_ptr<TtsSession>> session = TtsSession::Create(
        engine_, request->config(),
        [audio](v1::SynthesizeResponse r) {
          const v1::AudioChunk& chunk = r.audio();
          audio->set_format(chunk.format());
          audio->set_sample_rate(chunk.sample_rate());
          audio->set_channels(chunk.channels());
          audio->mutable_data()->append(chunk.data());
        },
        limits);
    if (!session.ok()) return session.status();
    v1::TextPiece piece;
    piece.set_text(request->text());
    if (absl::Status s = (*session)->PushText(piece); !s.ok()) return s;
    if (absl::Status s = (*session)->Finish(); !s.ok()) return s;
    audio->set_is_final(true);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* TtsService::ListVoices(grpc::CallbackServerContext* context,
                                                 const v1::ListVoicesRequest* request,
                                                 v1::ListVoicesResponse* response) {
  const std::string wanted = absl::AsciiStrToLower(request->language());
  for (const v1::Voice& voice : engine_->Voices()) {
    bool match = wanted.empty();
    for (const std::string& language : voice.languages()) {
      match |= absl::StartsWith(absl::AsciiStrToLower(language), wanted);
    }
    if (match) *response->add_voices() = voice;
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace voxflow::tts
