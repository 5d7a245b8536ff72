#include "services/gateway/converse_upstream.h"

#include <utility>

#include "services/common/timer_queue.h"
#include "spdlog/spdlog.h"

namespace voxflow::gateway {

std::shared_ptr<ConverseUpstream> ConverseUpstream::Start(
    const std::shared_ptr<grpc::Channel>& channel, v1::SessionConfig config, Callbacks callbacks) {
  std::shared_ptr<ConverseUpstream> upstream(
      new ConverseUpstream(channel, std::move(config), std::move(callbacks)));
  std::lock_guard<std::mutex> lock(upstream->mu_);
  upstream->OpenLocked({upstream->resumer_.FirstRequest()});
  return upstream;
}

void ConverseUpstream::OpenLocked(std::vector<v1::ConverseRequest> first) {
  // The callbacks name their stream, which exists only once they are given to it (no callback
  // runs before Start).
  auto self_stream = std::make_shared<Stream*>(nullptr);
  std::weak_ptr<ConverseUpstream> weak = weak_from_this();
  Stream::Options options;
  options.on_response = [weak](v1::ConverseEvent& event) {
    if (auto self = weak.lock()) self->OnEvent(event);
  };
  // Once the orchestrator has ended the stream, our side is done too: the stream's end
  // (on_done) waits for the write side, which nothing else would close.
  options.on_read_end = [weak, self_stream] {
    if (auto self = weak.lock()) {
      std::lock_guard<std::mutex> lock(self->mu_);
      if (self->stream_ == *self_stream) (*self_stream)->WritesDone();
    }
  };
  // The stream holds the upstream until it is done.
  options.on_done = [self = shared_from_this(), self_stream](const grpc::Status& s) {
    self->OnStreamDone(*self_stream, s);
  };
  auto* stream = new Stream(std::move(options));
  *self_stream = stream;
  stream_ = stream;
  auto stub = v1::Orchestrator::NewStub(channel_);
  stub->async()->Converse(stream->context(), stream);
  for (v1::ConverseRequest& request : first) stream->WriteNoWait(std::move(request));
  stream->Start();
}

void ConverseUpstream::OnEvent(v1::ConverseEvent& event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (resumer_.OnEvent(event) == ConverseResumer::Next::kReconnect) moved_ = true;
  }
  callbacks_.on_event(event);
}

void ConverseUpstream::OnStreamDone(Stream* stream, const grpc::Status& s) {
  const absl::Status status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
  bool resume;
  absl::Duration delay;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stream_ == stream) stream_ = nullptr;
    resume = !cancelled_ && (moved_ || resumer_.ShouldResume(status));
    moved_ = false;
    delay = resumer_.RetryDelay();
  }
  delete stream;
  if (!resume) {
    callbacks_.on_done(status);
    return;
  }
  spdlog::info("session {} continues on another orchestrator stream ({})", resumer_.session_id(),
               status.ok() ? "moved" : status.ToString());
  auto reopen = [self = shared_from_this()] {
    std::lock_guard<std::mutex> lock(self->mu_);
    if (self->cancelled_) {
      TimerQueue::Default().Schedule(absl::Now(), [self] {
        self->callbacks_.on_done(absl::CancelledError("the caller is gone"));
      });
      return;
    }
    self->OpenLocked(self->resumer_.ResumeRequests());
  };
  if (delay <= absl::ZeroDuration()) {
    reopen();
  } else {
    TimerQueue::Default().Schedule(absl::Now() + delay, std::move(reopen));
  }
}

bool ConverseUpstream::Send(v1::ConverseRequest request) {
  std::lock_guard<std::mutex> lock(mu_);
  // Audio is remembered even between streams: what no stream used goes on the next one.
  if (request.has_audio()) resumer_.AudioSent(request.audio());
  if (stream_ == nullptr) return true;
  if (stream_->PendingWrites() >= kMaxPendingRequests) return false;
  (void)stream_->WriteNoWait(std::move(request));  // False once the call failed: on_done follows.
  return true;
}

void ConverseUpstream::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  if (stream_ != nullptr) stream_->Abort();
}

}  // namespace voxflow::gateway
