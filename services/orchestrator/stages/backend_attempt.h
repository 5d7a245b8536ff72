// BackendAttempt: the skeleton the stt and tts stages share for one attempt of a streaming call
// to a speech backend. It keeps the attempt alive until it reports, aborts the call when the
// stage is cancelled, opens the call (deadline, wait-for-ready, the conversation's tags), gives
// up on a backend that is not reachable within its connect timeout, and ends the call: the
// call's objects go, then the result is reported exactly once. A subclass says what to send and
// what the answers mean.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_BACKEND_ATTEMPT_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_BACKEND_ATTEMPT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "services/common/backend.h"
#include "services/common/client_stream.h"
#include "services/orchestrator/pipeline/stage.h"
#include "services/orchestrator/stages/backend_call.h"
#include "services/orchestrator/stages/turn_environment.h"

namespace voxflow::orchestrator {

template <typename Request, typename Response>
class BackendAttempt : public std::enable_shared_from_this<BackendAttempt<Request, Response>> {
 public:
  using Stream = ClientStream<Request, Response>;
  // Binds the call to the stream: stub->async()->Method(call, stream).
  using StartCall = std::function<void(grpc::ClientContext* call, Stream* stream)>;

  virtual ~BackendAttempt() = default;
  BackendAttempt(const BackendAttempt&) = delete;
  BackendAttempt& operator=(const BackendAttempt&) = delete;

 protected:
  BackendAttempt(TurnEnvironment* environment, const Backend* backend,
                 std::shared_ptr<StageContext> context, AsyncStage::Done done)
      : environment_(environment),
        backend_(backend),
        context_(std::move(context)),
        done_(std::move(done)) {}

  // The subclass's result once the call is over (called without our locks).
  virtual StageResult Result(const grpc::Status& status) = 0;
  // The call is over, before Result: the subclass stops what feeds it (timers, watchers).
  virtual void OnCallEnded() {}

  // First thing in the subclass's Start: holds the attempt until it reports, and aborts the
  // call once the stage is cancelled (reports the cancellation if no call is open). False: the
  // stage was cancelled already and the attempt has reported.
  bool Begin() {
    self_ = this->shared_from_this();
    std::weak_ptr<BackendAttempt> weak = this->weak_from_this();
    const int64_t id = context_->cancellation()->OnCancel([weak](const absl::Status&) {
      if (auto self = weak.lock()) self->OnCancelled();
    });
    std::lock_guard<std::mutex> lock(mu_);
    cancel_callback_ = id;
    return !reported_;
  }

  template <typename T>
  std::weak_ptr<T> WeakSelf() {
    return std::static_pointer_cast<T>(this->shared_from_this());
  }

  // Under mu_: opens the backend call and schedules its connect check. Null (nothing opened)
  // once the attempt has reported or the stage is cancelled.
  std::shared_ptr<Stream> OpenCallLocked(typename Stream::Options options,
                                         const StartCall& start_call) {
    if (reported_ || call_open_ || context_->cancelled()) return nullptr;
    options.on_done = [this](const grpc::Status& status) { EndCall(status); };
    stream_ = std::make_shared<Stream>(std::move(options));
    call_open_ = true;
    grpc::ClientContext* call = stream_->context();
    call->set_deadline(absl::ToChronoTime(CallDeadline(*context_)));
    // A backend still connecting (or reconnecting) holds the call until it is ready; the
    // connect check gives up on it after the backend's connect timeout.
    call->set_wait_for_ready(true);
    TagWithConversation(*call);
    start_call(call, stream_.get());
    stream_->Start();
    backend_->channel()->GetState(/*try_to_connect=*/true);
    std::weak_ptr<BackendAttempt> weak = this->weak_from_this();
    connect_timer_ = environment_->clock().After(backend_->connect_timeout(), [weak] {
      if (auto self = weak.lock()) self->CheckConnected();
    });
    return stream_;
  }

  // The call's stream; null before it opens and once it is done.
  std::shared_ptr<Stream> stream() {
    std::lock_guard<std::mutex> lock(mu_);
    return stream_;
  }

  // Cancels the call (never under our locks: gRPC may run its reactions, and so EndCall,
  // before this returns).
  void AbortCall() {
    if (std::shared_ptr<Stream> call = stream()) call->Abort();
  }

  // Under mu_: why the call failed, as a result (RETRY for a backend out of reach or a transient
  // error); nullopt when it did not.
  std::optional<StageResult> CallFailureLocked(const grpc::Status& status) const {
    if (unreachable_) return StageResult::Retry(NotReachable(*backend_));
    if (!status.ok()) return Unfinished(FromGrpc(status, *backend_));
    return std::nullopt;
  }

  // Ends the attempt with `result` (the first time only): nothing of it uses the context after
  // this, and it may go.
  void Report(StageResult result) {
    int64_t cancel_callback;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (reported_) return;
      reported_ = true;
      cancel_callback = cancel_callback_;
    }
    context_->cancellation()->RemoveCallback(cancel_callback);
    context_.reset();
    AsyncStage::Done done = std::move(done_);
    std::shared_ptr<BackendAttempt> keep = std::move(self_);
    done(std::move(result));
  }

  TurnEnvironment* const environment_;
  const Backend* const backend_;
  // Released when the attempt reports.
  std::shared_ptr<StageContext> context_;

  std::mutex mu_;
  std::shared_ptr<Stream> stream_;  // Released when the call is done.
  bool call_open_ = false;
  bool call_done_ = false;
  bool got_response_ = false;  // Set by the subclass: a backend that answered is reachable.
  bool unreachable_ = false;
  bool reported_ = false;

 private:
  void OnCancelled() {
    std::optional<StageResult> cancelled;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (reported_) return;
      if (!call_open_) {
        cancelled = StageResult::Cancel(context_->cancellation()->reason().message());
      }
    }
    if (cancelled.has_value()) {
      Report(*std::move(cancelled));
    } else {
      AbortCall();  // EndCall reports.
    }
  }

  void CheckConnected() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (call_done_ || got_response_) return;
      if (backend_->channel()->GetState(/*try_to_connect=*/false) == GRPC_CHANNEL_READY) return;
      unreachable_ = true;
    }
    AbortCall();
  }

  // The call's last reaction.
  void EndCall(const grpc::Status& status) {
    int64_t connect_timer;
    {
      std::lock_guard<std::mutex> lock(mu_);
      call_done_ = true;
      connect_timer = connect_timer_;
    }
    environment_->clock().Cancel(connect_timer);
    OnCallEnded();
    StageResult result = Result(status);
    std::shared_ptr<Stream> call;
    {
      std::lock_guard<std::mutex> lock(mu_);
      call = std::move(stream_);
    }
    // The call's objects go before the result does (we are in its last reaction, which allows
    // it): a caller that tears gRPC down after the result finds nothing of ours left.
    call.reset();
    Report(std::move(result));
  }

  AsyncStage::Done done_;
  std::shared_ptr<BackendAttempt> self_;
  int64_t connect_timer_ = 0;
  int64_t cancel_callback_ = -1;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_BACKEND_ATTEMPT_H_
