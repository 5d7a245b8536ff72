// What the STT and TTS services share for their streaming calls: admission and ids of a
// service's streams (SpeechStreams), and the life of one stream (SpeechStream): a config first,
// which makes the engine's session; the service's own requests; end_of_input, which the session
// finishes in its own time (a remote provider answers later, on another thread) before the
// stream ends; a log line and the stream's slot given back when it is done.
#ifndef VOXFLOW_SERVICES_COMMON_SPEECH_STREAM_H_
#define VOXFLOW_SERVICES_COMMON_SPEECH_STREAM_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/server_context.h"
#include "services/common/stream_limit.h"
#include "services/common/stream_reactor.h"
#include "services/common/worker_pool.h"

namespace voxflow {

// One service's streams: admitted against its limits, numbered for its logs.
class SpeechStreams {
 public:
  // `service` names the service in metrics and logs ("stt").
  SpeechStreams(int max_streams, int max_streams_per_client, std::string service)
      : service_(std::move(service)), limit_(max_streams, max_streams_per_client, service_) {}

  // Serves `context` with a new `Stream`, constructed as Stream(this, id, client, args...);
  // refused with RESOURCE_EXHAUSTED, naming the limit, when the client or the service is over it.
  template <typename Stream, typename... Args>
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Open(
      grpc::CallbackServerContext* context, Args&&... args) {
    std::string client = ClientKey(*context);
    auto stream = std::make_shared<Stream>(this, next_id_++, client, std::forward<Args>(args)...);
    stream->SetLogContextFrom(*context);
    stream->Start(context, limit_.Admit(client));
    return stream.get();
  }

  const std::string& service() const { return service_; }
  // A stream of `client` is done (every Open is matched by one).
  void Release(const std::string& client) { limit_.Release(client); }

 private:
  const std::string service_;
  StreamLimit limit_;
  std::atomic<uint64_t> next_id_{1};
};

template <typename Request, typename Response, typename Session>
class SpeechStream : public SessionStreamReactor<Request, Response, Session> {
 protected:
  // `config_name` names the first request's message ("RecognitionConfig").
  SpeechStream(SpeechStreams* streams, uint64_t id, std::string client, WorkerPool* pool,
               size_t max_unread_bytes, std::string config_name)
      : SessionStreamReactor<Request, Response, Session>(
            pool, {.service = streams->service(), .max_unread_bytes = max_unread_bytes},
            config_name),
        streams_(streams),
        id_(id),
        client_(std::move(client)),
        config_name_(std::move(config_name)) {}

  // The config request: once only; `make` checks it and makes the session.
  absl::Status StartSession(const std::function<absl::StatusOr<std::unique_ptr<Session>>()>& make) {
    if (absl::Status s = this->CheckFirstConfig(); !s.ok()) return s;
    absl::StatusOr<std::unique_ptr<Session>> session = make();
    if (!session.ok()) return session.status();
    this->SetSession(*std::move(session));
    return absl::OkStatus();
  }

  // end_of_input: finishes the session, then calls `done` (on any thread) with how it ended.
  virtual void FinishSession(std::function<void(const absl::Status&)> done) = 0;
  // The stream's one log line at its end (session() is null if no config came).
  virtual void LogDone(const absl::Status& status) = 0;

  uint64_t id() const { return id_; }

 private:
  absl::Status HandleEndOfInput() final {
    if (this->session() == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("stream ended before a ", config_name_, " was sent"));
    }
    auto self = this->shared_from_this();
    FinishSession([this, self](const absl::Status& status) { this->EndStream(status); });
    return absl::OkStatus();
  }

  // The stream ends when the session has finished (FinishSession), not at end_of_input.
  bool EndsOnEndOfInput() const final { return false; }

  void HandleDone(const absl::Status& status) final {
    LogDone(status);
    streams_->Release(client_);
  }

  SpeechStreams* const streams_;
  const uint64_t id_;
  const std::string client_;
  const std::string config_name_;
};

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_SPEECH_STREAM_H_
