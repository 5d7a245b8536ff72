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
#include "absl/time/time.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "grpcpp/support/proto_buffer_writer.h"
#include "grpcpp/support/server_callback.h"
#include "services/common/logging.h"
#include "services/common/metrics.h"
#include "services/common/timer_queue.h"
#include "services/common/worker_pool.h"
#include "spdlog/spdlog.h"

namespace voxflow {

// Metadata that tells a backend which conversation a call is for (for its logs).
inline constexpr char kSessionIdMetadata[] = "x-voxflow-session-id";
inline constexpr char kTurnIdMetadata[] = "x-voxflow-turn-id";

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// Parses a request of an RPC served raw (ByteBuffer): INVALID_ARGUMENT naming `what` and the
// expected message when the bytes are not one. (gRPC's generated handlers would take such bytes
// for the end of the stream, or answer UNIMPLEMENTED with no message.)
template <typename Message>
absl::Status ParseRequest(grpc::ByteBuffer* buffer, Message* message, absl::string_view what) {
  if (grpc::SerializationTraits<Message>::Deserialize(buffer, message).ok()) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(what, " did not parse as a ",
                                                 Message::descriptor()->full_name(),
                                                 " (malformed protobuf or invalid UTF-8)"));
}

template <typename Message>
grpc::ByteBuffer SerializeResponse(const Message& message) {
  grpc::ByteBuffer buffer;
  bool own_buffer = false;
  (void)grpc::SerializationTraits<Message>::Serialize(message, &buffer, &own_buffer);
  return buffer;
}

// The bound on what a stream keeps for a client that does not read.
struct StreamOptions {
  std::string service;  // For metrics, e.g. "stt".
  // Responses waiting for the client, in bytes; past it the call ends (see Send).
  size_t max_unread_bytes = 4 << 20;
  // How long the last write may wait for a client past the bound before the call is cancelled.
  absl::Duration slow_reader_grace = absl::Seconds(5);
  // Handle a request on the gRPC thread that read it when the strand is idle (Strand::RunOrPost):
  // for handlers that never wait (the orchestrator's session), not for engine work.
  bool handle_inline = false;
};

// The stream (RPC) is served raw, as bytes, so that a request which does not parse is an
// INVALID_ARGUMENT, not a silent end of input.
template <typename Request, typename Response>
class StreamReactor : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
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

  // Begins the stream: reads, or ends it at once with `refusal` if that is not OK. `context` must
  // be the call's (valid until OnDone).
  void Start(grpc::CallbackServerContext* context, absl::Status refusal = absl::OkStatus()) {
    self_ = this->shared_from_this();
    context_ = context;
    if (!refusal.ok()) {
      EndStream(refusal);
      return;
    }
    this->StartRead(&request_);
  }

 protected:
  StreamReactor(WorkerPool* pool, StreamOptions options)
      : strand_(Strand::Create(pool)),
        options_(std::move(options)),
        slow_readers_(SlowReadersCounter(options_.service)) {}

  // On the strand, in order. A non-OK status ends the stream with it.
  virtual absl::Status HandleRequest(Request request) = 0;
  // On the strand, after the last request, when the client half-closes.
  virtual absl::Status HandleEndOfInput() = 0;
  // On the strand: the client's end of input, by a request of the subclass's protocol or by the
  // half-close that follows it; HandleEndOfInput runs for the first only.
  absl::Status EndOfInput() {
    if (end_of_input_) return absl::OkStatus();
    end_of_input_ = true;
    return HandleEndOfInput();
  }
  // Whether an OK HandleEndOfInput ends the stream at once; false when the subclass calls
  // EndStream itself later (a conversation finishes its last turn first).
  virtual bool EndsOnEndOfInput() const { return true; }
  // On a gRPC thread when the call is cancelled (client cancel, deadline, shutdown): set flags
  // that stop engine work, nothing slow.
  virtual void HandleCancel() = 0;
  // Once, when the stream is over (on a gRPC thread), with the status sent or CANCELLED.
  virtual void HandleDone(const absl::Status& /*status*/) {}

  // Queues a response (any thread). Dropped once the stream is ending. A client that lets more
  // than max_unread_bytes wait is too slow for a real-time stream: what waits is dropped and the
  // call ends with RESOURCE_EXHAUSTED (counted in voxflow_slow_reader_total); if even the write
  // in flight is not taken within slow_reader_grace, the call is cancelled.
  void Send(const Response& response) {
    grpc::ByteBuffer buffer = SerializeResponse(response);
    std::lock_guard<std::mutex> lock(mu_);
    if (ending_) return;
    unread_bytes_ += buffer.Length();
    outbound_.push_back(std::move(buffer));
    if (unread_bytes_ > options_.max_unread_bytes) {
      EndForSlowReaderLocked();
      return;
    }
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
        const absl::Status status = self->EndOfInput();
        if (!status.ok() || self->EndsOnEndOfInput()) self->EndStream(status);
      });
      return;
    }
    ++requests_read_;
    Request request;
    if (absl::Status parsed =
            ParseRequest(&request_, &request, absl::StrCat("request ", requests_read_));
        !parsed.ok()) {
      // In order: the requests before it are handled first. No further reads.
      strand_->Post([self, parsed] { self->EndStream(parsed); });
      return;
    }
    auto handle = [self, request = std::move(request)]() mutable {
      if (self->Ending()) return;
      ScopedLogContext log_context(self->log_context_);
      if (absl::Status status = self->HandleRequest(std::move(request)); !status.ok()) {
        self->EndStream(status);
        return;
      }
      self->ResumeReadIfPaused();
    };
    if (options_.handle_inline) {
      strand_->RunOrPost(std::move(handle));
    } else {
      strand_->Post(std::move(handle));
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (ending_) return;
    if (strand_->pending() < kMaxPendingRequests) {
      request_.Clear();
      this->StartRead(&request_);
    } else {
      read_paused_ = true;  // Backpressure: the client's sends now wait on flow control.
    }
  }

  void ResumeReadIfPaused() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!read_paused_ || ending_ || strand_->pending() >= kMaxPendingRequests) return;
    read_paused_ = false;
    request_.Clear();
    this->StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    unread_bytes_ -= outbound_.front().Length();
    outbound_.pop_front();
    if (!ok) {  // The client is gone; OnCancel or OnDone follows.
      writing_ = false;
      outbound_.clear();
      unread_bytes_ = 0;
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

  // Drops what waits behind the write in flight and ends the call. gRPC allows no Finish while a
  // write is outstanding, and a client that never reads never completes it: a timer cancels the
  // call if the write is still out after the grace.
  void EndForSlowReaderLocked() {
    const size_t unread = unread_bytes_;
    while (outbound_.size() > (writing_ ? 1u : 0u)) {
      unread_bytes_ -= outbound_.back().Length();
      outbound_.pop_back();
    }
    ending_ = true;
    status_ = absl::ResourceExhaustedError(
        absl::StrCat("client is not reading: ", unread, " bytes of responses waited for it (limit ",
                     options_.max_unread_bytes, ", --max_unread_bytes)"));
    slow_readers_.Increment();
    spdlog::warn("ending a stream whose client does not read: {} bytes waited (limit {})", unread,
                 options_.max_unread_bytes);
    if (!writing_) {
      FinishLocked();
      return;
    }
    std::weak_ptr<StreamReactor> weak = this->shared_from_this();
    TimerQueue::Default().Schedule(absl::Now() + options_.slow_reader_grace, [weak] {
      if (auto self = weak.lock()) self->CancelIfStillWriting();
    });
  }

  // Finish is held back while TryCancel runs, so that OnDone (which ends `context_`) cannot run
  // meanwhile on another thread.
  void CancelIfStillWriting() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_ || !writing_) return;
      cancelling_ = true;
    }
    context_->TryCancel();
    std::lock_guard<std::mutex> lock(mu_);
    cancelling_ = false;
    if (ending_ && !writing_) FinishLocked();
  }

  void FinishLocked() {
    if (finished_ || cancelling_) return;
    finished_ = true;
    this->Finish(ToGrpcStatus(status_));
  }

  bool Ending() {
    std::lock_guard<std::mutex> lock(mu_);
    return ending_;
  }

  const std::shared_ptr<Strand> strand_;
  const StreamOptions options_;
  prometheus::Counter& slow_readers_;
  LogContext log_context_;
  std::shared_ptr<StreamReactor> self_;
  grpc::CallbackServerContext* context_ = nullptr;
  std::mutex mu_;
  grpc::ByteBuffer request_;
  uint64_t requests_read_ = 0;  // gRPC threads, one read at a time.
  bool end_of_input_ = false;   // The strand's.
  std::deque<grpc::ByteBuffer> outbound_;
  size_t unread_bytes_ = 0;
  bool writing_ = false;
  bool read_paused_ = false;
  bool ending_ = false;
  bool cancelling_ = false;
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
  SessionStreamReactor(WorkerPool* pool, StreamOptions options, std::string config_name)
      : StreamReactor<Request, Response>(pool, std::move(options)),
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

// Runs a raw unary call on `pool` (never on gRPC's threads): parses the request (INVALID_ARGUMENT
// when it does not parse), runs `work`, and finishes the call with its status and response.
// `request_bytes` and `response_bytes` are the call's (valid until it finishes).
template <typename Request, typename Response>
grpc::ServerUnaryReactor* FinishOnPool(
    grpc::CallbackServerContext* context, WorkerPool* pool, const grpc::ByteBuffer* request_bytes,
    grpc::ByteBuffer* response_bytes,
    std::function<absl::Status(const Request& request, Response* response)> work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  pool->Submit([reactor, request_bytes, response_bytes, work = std::move(work)] {
    grpc::ByteBuffer bytes(*request_bytes);
    Request request;
    Response response;
    absl::Status status = ParseRequest(&bytes, &request, "request");
    if (status.ok()) status = work(request, &response);
    if (status.ok()) *response_bytes = SerializeResponse(response);
    reactor->Finish(ToGrpcStatus(status));
  });
  return reactor;
}

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_STREAM_REACTOR_H_
