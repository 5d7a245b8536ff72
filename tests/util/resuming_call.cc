#include "tests/util/resuming_call.h"

#include <utility>

#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace voxflow::testing {

ResumingCall::ResumingCall(std::vector<std::string> targets, v1::SessionConfig config)
    : targets_(std::move(targets)), resumer_(std::move(config)) {
  for (const std::string& target : targets_) {
    channels_.push_back(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  }
  std::lock_guard<std::mutex> lock(mu_);
  OpenLocked(0, {resumer_.FirstRequest()});
}

ResumingCall::~ResumingCall() {
  std::vector<std::unique_ptr<Stream>> streams;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
    for (auto& stream : streams_) stream->context.TryCancel();
  }
  // A reader may open one more stream before it sees closing_; take them all once they stop.
  while (true) {
    std::unique_lock<std::mutex> lock(mu_);
    if (streams_.empty()) break;
    std::unique_ptr<Stream> stream = std::move(streams_.back());
    streams_.pop_back();
    lock.unlock();
    stream->context.TryCancel();
    stream->reader.join();
  }
}

void ResumingCall::OpenLocked(size_t target, const std::vector<v1::ConverseRequest>& first) {
  auto stream = std::make_unique<Stream>();
  stream->target = target;
  stream->rw = v1::Orchestrator::NewStub(channels_[target])->Converse(&stream->context);
  for (const v1::ConverseRequest& request : first) stream->rw->Write(request);
  Stream* raw = stream.get();
  streams_.push_back(std::move(stream));
  raw->reader = std::thread([this, raw] { Read(raw); });
}

void ResumingCall::Read(Stream* stream) {
  v1::ConverseEvent event;
  bool moved = false;
  absl::Time left = absl::InfinitePast();
  while (stream->rw->Read(&event)) {
    std::lock_guard<std::mutex> lock(mu_);
    const absl::Time now = absl::Now();
    if (event.has_session_started() && !switches_.empty() &&
        switches_.back().started == absl::InfinitePast()) {
      switches_.back().started = now;
    }
    if (resumer_.OnEvent(event) == ConverseResumer::Next::kReconnect) {
      moved = true;
      left = now;
    }
    events_.push_back({event, now});
    changed_.notify_all();
  }
  const grpc::Status status = stream->rw->Finish();
  std::unique_lock<std::mutex> lock(mu_);
  const absl::Status as_absl(static_cast<absl::StatusCode>(status.error_code()),
                             status.error_message());
  if (!closing_ && (moved || resumer_.ShouldResume(as_absl))) {
    const size_t next = (stream->target + 1) % targets_.size();
    const absl::Duration delay = resumer_.RetryDelay();
    if (delay > absl::ZeroDuration()) {
      lock.unlock();
      absl::SleepFor(delay);
      lock.lock();
      if (closing_) return;
    }
    switches_.push_back({moved, moved ? left : absl::Now(), absl::InfinitePast(), next});
    OpenLocked(next, resumer_.ResumeRequests());
  } else if (!streams_.empty() && streams_.back().get() == stream) {
    done_ = true;
    status_ = status;
  }
  changed_.notify_all();
}

bool ResumingCall::Send(const v1::ConverseRequest& request) {
  std::lock_guard<std::mutex> lock(mu_);
  if (done_ || streams_.empty()) return false;
  // Written while the stream may be ending: the audio is remembered, and what the server did not
  // use goes again on the next stream.
  if (request.has_audio()) resumer_.AudioSent(request.audio());
  streams_.back()->rw->Write(request);
  return true;
}

grpc::Status ResumingCall::Finish(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!streams_.empty()) streams_.back()->rw->WritesDone();
  // A stream switched to after this half-close is half-closed in turn.
  size_t closed = streams_.size();
  const absl::Time deadline = absl::Now() + timeout;
  while (!done_) {
    if (changed_.wait_until(lock, absl::ToChronoTime(deadline)) == std::cv_status::timeout) {
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "the call did not end");
    }
    if (streams_.size() > closed) {
      streams_.back()->rw->WritesDone();
      closed = streams_.size();
    }
  }
  return status_;
}

bool ResumingCall::WaitFor(const std::function<bool(const std::vector<TimedEvent>&)>& done,
                           absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return changed_.wait_until(lock, absl::ToChronoTime(absl::Now() + timeout),
                             [&] { return done(events_); });
}

std::vector<TimedEvent> ResumingCall::events() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_;
}

std::vector<TimedEvent> ResumingCall::Filter(v1::ConverseEvent::EventCase kind) const {
  std::vector<TimedEvent> out;
  for (TimedEvent& e : events()) {
    if (e.event.event_case() == kind) out.push_back(std::move(e));
  }
  return out;
}

std::vector<ResumingCall::Switch> ResumingCall::switches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return switches_;
}

size_t ResumingCall::target() const {
  std::lock_guard<std::mutex> lock(mu_);
  return streams_.empty() ? 0 : streams_.back()->target;
}

}  // namespace voxflow::testing
