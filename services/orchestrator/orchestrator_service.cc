#include "services/orchestrator/orchestrator_service.h"

#include <memory>

#include "services/common/logging.h"
#include "spdlog/spdlog.h"

namespace voxflow::orchestrator {

// One Converse call: moves requests to the session (on the stream's strand) and its events to the
// client.
class ConverseStream final : public StreamReactor<v1::ConverseRequest, v1::ConverseEvent> {
 public:
  ConverseStream(OrchestratorService* service, std::string client)
      : StreamReactor(service->pool_, {.service = "orchestrator",
                                       .max_unread_bytes = service->options_.max_unread_bytes,
                                       .handle_inline = true}),
        service_(service),
        client_(std::move(client)) {
    session_ = ConverseSession::Create(
        service->services_, [this](v1::ConverseEvent event) { Send(std::move(event)); },
        [this](const absl::Status& status) { EndStream(status); });
    std::weak_ptr<ConverseSession> weak = session_;
    session_->SetTickWaker([ticker = &service->ticker_, weak] {
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
    session_->Close();  // After this the session no longer calls Send or EndStream.
    spdlog::info("session {} ended: {}", session_->session_id(),
                 status.ok() ? "OK" : status.ToString());
    service_->session_limit_.Release(client_);
  }

  OrchestratorService* const service_;
  const std::string client_;
  std::shared_ptr<ConverseSession> session_;
};

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* OrchestratorService::Converse(
    grpc::CallbackServerContext* context) {
  std::string client = ClientKey(*context);
  auto stream = std::make_shared<ConverseStream>(this, client);
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
