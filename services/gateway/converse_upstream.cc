#include "services/gateway/converse_upstream.h"

#include <utility>

namespace voxflow::gateway {

std::shared_ptr<ConverseUpstream> ConverseUpstream::Start(
    const std::shared_ptr<grpc::Channel>& channel, v1::SessionConfig config, Callbacks callbacks) {
  std::shared_ptr<ConverseUpstream> upstream(new ConverseUpstream());
  Stream::Options options;
  options.on_response = std::move(callbacks.on_event);
  // Once the orchestrator has ended the call, our side is done too: the call's end (on_done)
  // waits for the write side, which nothing else would close.
  std::weak_ptr<ConverseUpstream> weak = upstream;
  options.on_read_end = [weak] {
    if (auto self = weak.lock()) {
      std::lock_guard<std::mutex> lock(self->mu_);
      if (self->stream_ != nullptr) self->stream_->WritesDone();
    }
  };
  // The call holds the upstream until it is done, and frees its stream then.
  options.on_done = [upstream, on_done = std::move(callbacks.on_done)](const grpc::Status& s) {
    Stream* stream;
    {
      std::lock_guard<std::mutex> lock(upstream->mu_);
      stream = upstream->stream_;
      upstream->stream_ = nullptr;
    }
    on_done(absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message()));
    delete stream;
  };
  auto* stream = new Stream(std::move(options));
  {
    std::lock_guard<std::mutex> lock(upstream->mu_);
    upstream->stream_ = stream;
  }
  auto stub = v1::Orchestrator::NewStub(channel);
  stub->async()->Converse(stream->context(), stream);
  v1::ConverseRequest first;
  *first.mutable_config() = std::move(config);
  stream->WriteNoWait(std::move(first));
  stream->Start();
  return upstream;
}

bool ConverseUpstream::Send(v1::ConverseRequest request) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stream_ == nullptr) return true;
  if (stream_->PendingWrites() >= kMaxPendingRequests) return false;
  (void)stream_->WriteNoWait(std::move(request));  // False once the call failed: on_done follows.
  return true;
}

void ConverseUpstream::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  if (stream_ != nullptr) stream_->Abort();
}

}  // namespace voxflow::gateway
