#include "services/orchestrator/orchestrator_service.h"

#include <memory>

#include "services/common/logging.h"
#include "spdlog/spdlog.h"

namespace voxflow::orchestrator {

// One Converse call: moves requests to the session (on the stream's strand) and its events to the
// client.
class ConverseStream final : public StreamReactor<v1::ConverseRequest, v1::ConverseEvent> {
 public:
  // `services`, `pool`, `ticker` and `limit` are the service's and outlive the stream.
  ConverseStream(const SessionServices& services, WorkerPool* pool, size_t max_unread_bytes,
                 SessionTicker* ticker, StreamLimit* limit, std::string client)
      : StreamReactor(pool, {.service = "orchestrator",
                             .max_unread_bytes = max_unread_bytes,
                             .handle_inline = true}),
        limit_(limit),
        client_(std::move(client)) {
    session_ = ConverseSession::Create(
        services, [this](v1::ConverseEvent event) { Send(std::move(event)); },
        [this](const absl::Status& status) { EndStream(status); });
    std::weak_ptr<ConverseSession> weak = session_;
    session_->SetTickWaker([ticker, weak] {
      ticker->Add([weak](absl::Time now) {
        auto session = weak.lock();
        return session != nullptr && session->Tick(now);
      });
    });
  }

 private:
  absl::Status HandleRequest(v1::ConverseRequest request) override {
    return session_->HandleRequest(std::move(request));
  }
  absl::Status HandleEndOfInput() override { return session_->HandleEndOfInput(); }
  bool EndsOnEndOfInput() const override { return false; }  // After the last turn.
  void HandleCancel() override { session_->Close(); }
  void HandleDone(const absl::Status& status) override {
    ScopedLogContext log_context(session_->session_id(), 0);
    // After this the session no longer calls Send or EndStream. A stream that ended OK ended the
    // conversation; any other end leaves it resumable (where a shared store keeps it).
    session_->Close(/*conversation_over=*/status.ok());
    spdlog::info("session {} ended: {}", session_->session_id(),
                 status.ok() ? "OK" : status.ToString());
    limit_->Release(client_);
  }

  StreamLimit* const limit_;
  const std::string client_;
  std::shared_ptr<ConverseSession> session_;
};

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* OrchestratorService::Converse(
    grpc::CallbackServerContext* context) {
  std::string client = ClientKey(*context);
  auto stream = std::make_shared<ConverseStream>(services_, pool_, options_.max_unread_bytes,
                                                 &ticker_, &session_limit_, client);
  stream->Start(context, session_limit_.Admit(client));
  return stream.get();
}

grpc::Status OrchestratorService::Describe(grpc::ServerContext* /*context*/,
                                           const v1::DescribeRequest* /*request*/,
                                           v1::DescribeResponse* response) {
  if (services_.pipelines != nullptr) {
    response->set_default_pipeline(services_.pipelines->default_name());
    for (const std::string& name : services_.pipelines->Names()) {
      v1::DescribeResponse::Pipeline* pipeline = response->add_pipelines();
      pipeline->set_name(name);
      if (std::shared_ptr<const PipelineGraph> graph = services_.pipelines->Find(name)) {
        for (const StageNode& stage : graph->stages()) pipeline->add_stages(stage.spec.name());
      }
    }
  }
  if (services_.voices != nullptr) {
    for (v1::Voice& voice : services_.voices->voices()) *response->add_voices() = std::move(voice);
  }
  return grpc::Status::OK;
}

}  // namespace voxflow::orchestrator
