// StreamReactor: the shared shape of Voxflow's bidirectional streaming RPCs on gRPC's callback
// API. gRPC threads only move messages: each request is handed to the stream's Strand (on a
// WorkerPool), where the subclass handles it; responses go through an outbound queue with one
// write in flight. Reads pause while too many requests wait, so a slow engine pushes back on the
// client through HTTP/2 flow control, and a slow client slows only its own stream. The status is
// sent after every queued response.
//
// Lifetime: the reactor owns itself (shared_ptr) until gRPC's OnDone; queued tasks hold it too, so
// no task ever runs on a deleted reactor, and none touches gRPC after Finish.
#ifndef VOXFLOW_SERVICES_COMMON_STREAM_REACTOR_H_
#define VOXFLOW_SERVICES_COMMON_STREAM_REACTOR_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "services/common/logging.h"
#include "services/common/metrics.h"
#include "services/common/worker_pool.h"

namespace voxflow {

// Metadata that tells a backend which conversation a call is for (for its logs).
inline constexpr char kSessionIdMetadata[] = "x-voxflow-session-id";
inline constexpr char kTurnIdMetadata[] = "x-voxflow-turn-id";

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

template <typename Request, typename Response>
class StreamReactor : public grpc::ServerBidiReactor<Request, Response>,
                      public std::enable_shared_from_this<StreamReactor<Request, Response>> {
 public:
  // Requests allowed to wait on the strand before reads pause.
  static constexpr size_t kMaxPendingRequests = 8;

  // The session and turn the caller works for (from its x-voxflow-session-id and
  // x-voxflow-turn-id metadata): this stream's log lines carry them. Call before Start().
  void SetLogContextFrom(const grpc::CallbackServerContext& context) {
    const auto& metadata = context.client_metadata();
    if (auto it = metadata.find(kSessionIdMetadata); it != metadata.end()) {
      log_context_.session_id.assign(it->second.data(), it->second.size());
    }
    if (auto it = metadata.find(kTurnIdMetadata); it != metadata.end()) {
      (void)absl::SimpleAtoi(absl::string_view(it->second.data(), it->second.size()),
                             &log_context_.turn_id);
    }
  }

  // Begins the stream: reads, or ends it at once with `refusal` if that is not OK.
  void Start(absl::Status refusal = absl::OkStatus()) {
    self_ = this->shared_from_this();
    if (!refusal.ok()) {
      EndStream(refusal);
      return;
    }
    this->StartRead(&request_);
  }

 protected:
  explicit StreamReactor(WorkerPool* pool) : strand_(Strand::Create(pool)) {}

  // On the strand, in order. A non-OK status ends the stream with it.
  virtual absl::Status HandleRequest(Request request) = 0;
  // On the strand, after the last request, when the client half-closes.
  virtual absl::Status HandleEndOfInput() = 0;
  // Whether an OK HandleEndOfInput ends the stream at once; false when the subclass calls
  // EndStream itself later (a conversation finishes its last turn first).
  virtual bool EndsOnEndOfInput() const { return true; }
  // On a gRPC thread when the call is cancelled (client cancel, deadline, shutdown): set flags
  // that stop engine work, nothing slow.
  virtual void HandleCancel() = 0;
  // Once, when the stream is over (on a gRPC thread), with the status sent or CANCELLED.
  virtual void HandleDone(const absl::Status& /*status*/) {}

  // Queues a response (any thread). Dropped once the stream is ending.
  void Send(Response response) {
    std::lock_guard<std::mutex> lock(mu_);
    if (ending_) return;
    outbound_.push_back(std::move(response));
    if (!writing_) {
      writing_ = true;
      this->StartWrite(&outbound_.front());
    }
  }

  // Ends the stream with `status` once queued responses are written (any thread, first call wins).
  void EndStream(const absl::Status& status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (ending_) return;
    ending_ = true;
    status_ = status;
    if (!writing_) FinishLocked();
  }

  bool cancelled() const { return cancelled_; }

 private:
  void OnReadDone(bool ok) override {
    auto self = this->shared_from_this();
    if (!ok) {  // Half-close (or the call broke; then OnCancel follows).
      strand_->Post([self] {
        if (self->Ending()) return;
        ScopedLogContext log_context(self->log_context_);
        const absl::Status status = self->HandleEndOfInput();
        if (!status.ok() || self->EndsOnEndOfInput()) self->EndStream(status);
      });
      return;
    }
    strand_->Post([self, request = std::move(request_)]() mutable {
      if (self->Ending()) return;
      ScopedLogContext log_context(self->log_context_);
      if (absl::Status status = self->HandleRequest(std::move(request)); !status.ok()) {
        self->EndStream(status);
        return;
      }
      self->ResumeReadIfPaused();
    });
    std::lock_guard<std::mutex> lock(mu_);
    if (ending_) return;
    if (strand_->pending() < kMaxPendingRequests) {
      request_ = Request();
      this->StartRead(&request_);
    } else {
      read_paused_ = true;  // Backpressure: the client's sends now wait on flow control.
    }
  }

  void ResumeReadIfPaused() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!read_paused_ || ending_ || strand_->pending() >= kMaxPendingRequests) return;
    read_paused_ = false;
    request_ = Request();
    this->StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    outbound_.pop_front();
    if (!ok) {  // The client is gone; OnCancel or OnDone follows.
      writing_ = false;
      outbound_.clear();
      if (!ending_) {
        ending_ = true;
        status_ = absl::CancelledError("client went away");
      }
      FinishLocked();
      return;
    }
    if (!outbound_.empty()) {
      this->StartWrite(&outbound_.front());
      return;
    }
    writing_ = false;
    if (ending_) FinishLocked();
  }

  void OnCancel() override {
    cancelled_ = true;
    HandleCancel();
    EndStream(absl::CancelledError("call cancelled"));
  }

  void OnDone() override {
    absl::Status status;
    {
      std::lock_guard<std::mutex> lock(mu_);
      status = cancelled_ ? absl::CancelledError("call cancelled") : status_;
    }
    ScopedLogContext log_context(log_context_);
    HandleDone(status);
    self_.reset();  // Queued tasks may still hold the reactor; they no longer touch gRPC.
  }

  void FinishLocked() {
    if (finished_) return;
    finished_ = true;
    this->Finish(ToGrpcStatus(status_));
  }

  bool Ending() {
    std::lock_guard<std::mutex> lock(mu_);
    return ending_;
  }

  const std::shared_ptr<Strand> strand_;
  LogContext log_context_;
  std::shared_ptr<StreamReactor> self_;
  std::mutex mu_;
  Request request_;
  std::deque<Response> outbound_;
  bool writing_ = false;
  bool read_paused_ = false;
  bool ending_ = false;
  bool finished_ = false;
  absl::Status status_;
  std::atomic<bool> cancelled_{false};
};

// A StreamReactor whose stream drives one session (SttSession, TtsSession) created from its first
// request: it holds the session so that a cancel on a gRPC thread reaches it safely, answers the
// protocol errors every such stream shares, and times the stream.
template <typename Request, typename Response, typename Session>
class SessionStreamReactor : public StreamReactor<Request, Response> {
 protected:
  SessionStreamReactor(WorkerPool* pool, std::string config_name)
      : StreamReactor<Request, Response>(pool),
        config_name_(std::move(config_name)),
        start_(std::chrono::steady_clock::now()) {}

  // On the strand, before creating a session from a config request.
  absl::Status CheckFirstConfig() const {
    if (session_ == nullptr) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat("config sent twice: only the first request may be a ", config_name_));
  }
  // On the strand: the session made from the config (cancelled at once if the call already is).
  void SetSession(std::unique_ptr<Session> session) {
    std::lock_guard<std::mutex> lock(session_mu_);
    session_ = std::move(session);
    if (this->cancelled()) session_->Cancel();
  }
  // On the strand. `what` names the request that needs a session ("audio", "text").
  absl::StatusOr<Session*> RequireSession(absl::string_view what) const {
    if (session_ != nullptr) return session_.get();
    return absl::InvalidArgumentError(
        absl::StrCat(what, " before config: the first request must be a ", config_name_));
  }
  // The session, or null before the config (strand, or HandleDone once the stream is over).
  Session* session() const { return session_.get(); }
  double elapsed_seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  void HandleCancel() final {
    std::lock_guard<std::mutex> lock(session_mu_);
    if (session_ != nullptr) session_->Cancel();
  }

  const std::string config_name_;
  const std::chrono::steady_clock::time_point start_;
  std::mutex session_mu_;  // Guards session_ against HandleCancel; the strand owns it otherwise.
  std::unique_ptr<Session> session_;
};

// A service's open streams against its --max_streams, exported as voxflow_active_streams (the
// admitted ones).
class StreamLimit {
 public:
  StreamLimit(int max_streams, const std::string& service)
      : max_(max_streams), gauge_(ActiveStreamsGauge(service)) {}
  // Counts a new stream: RESOURCE_EXHAUSTED if that puts it over the limit. Every Admit(), refused
  // or not, is matched by a Release() when the stream is done.
  absl::Status Admit() {
    std::lock_guard<std::mutex> lock(mu_);
    ++active_;
    gauge_.Set(std::min(active_, max_));
    if (active_ <= max_) return absl::OkStatus();
    return absl::ResourceExhaustedError(
        absl::StrCat("too many concurrent streams (limit ", max_, ")"));
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    --active_;
    gauge_.Set(std::min(active_, max_));
  }
  int active() const {
    std::lock_guard<std::mutex> lock(mu_);
    return active_;
  }

 private:
  const int max_;
  mutable std::mutex mu_;
  int active_ = 0;
  prometheus::Gauge& gauge_;
};

// Runs a unary call's work on `pool` (never on gRPC's threads) and finishes the call with its
// status.
inline grpc::ServerUnaryReactor* FinishOnPool(grpc::CallbackServerContext* context,
                                              WorkerPool* pool,
                                              std::function<absl::Status()> work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  pool->Submit([reactor, work = std::move(work)] { reactor->Finish(ToGrpcStatus(work())); });
  return reactor;
}

// INVALID_ARGUMENT when a config asks for a provider this server does not run ("" accepts any).
inline absl::Status CheckServedProvider(absl::string_view requested, absl::string_view served) {
  if (requested.empty() || requested == served) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "config.provider '", requested, "' is not served here (this server runs '", served, "')"));
}

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_STREAM_REACTOR_H_
