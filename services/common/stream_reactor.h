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

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <utility>

#include "absl/status/status.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "services/common/worker_pool.h"

namespace voxflow {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

template <typename Request, typename Response>
class StreamReactor : public grpc::ServerBidiReactor<Request, Response>,
                      public std::enable_shared_from_this<StreamReactor<Request, Response>> {
 public:
  // Requests allowed to wait on the strand before reads pause.
  static constexpr size_t kMaxPendingRequests = 8;

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
        self->EndStream(self->HandleEndOfInput());
      });
      return;
    }
    strand_->Post([self, request = std::move(request_)]() mutable {
      if (self->Ending()) return;
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

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_STREAM_REACTOR_H_
