// ClientStream: a client bidirectional stream on gRPC's callback API, driven from plain threads.
//
// Why not the synchronous API: every synchronous Read/Write plucks its own completion queue, and
// with hundreds of streams those threads take turns as gRPC's poller, handing off through
// condition variables — the orchestrator's load benchmark showed 200 sessions stalled in
// CompletionQueue::Pluck with the CPUs mostly idle. Here gRPC's own threads run the stream; the
// caller only queues writes and takes responses.
//
// - Write() queues a message; one write is in flight at a time. It blocks while more than
//   `max_pending_writes` wait (backpressure) and returns false once writing has failed.
// - Responses go either to `on_response`, called on gRPC's threads in order (it must not block),
//   or, without it, to an inbox that Read() takes from; reading pauses while `max_inbox` wait,
//   so HTTP/2 flow control pushes back on the server.
// - Finish() waits for the call to end and returns its status. Call it (after TryCancel if need
//   be) before the stream is destroyed.
// - Event-driven callers never block: WriteNoWait() queues without backpressure (the caller
//   bounds what it writes), and `on_done` reports the end of the call, after which the stream
//   may be destroyed (from within on_done too).
#ifndef VOXFLOW_SERVICES_COMMON_CLIENT_STREAM_H_
#define VOXFLOW_SERVICES_COMMON_CLIENT_STREAM_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <utility>

#include "grpcpp/client_context.h"
#include "grpcpp/support/client_callback.h"
#include "grpcpp/support/status.h"

namespace voxflow {

template <typename Request, typename Response>
class ClientStream final : public grpc::ClientBidiReactor<Request, Response> {
 public:
  struct Options {
    size_t max_pending_writes = 64;
    size_t max_inbox = 64;
    // Called on gRPC's threads for each response, in order; null: responses go to Read().
    std::function<void(Response&)> on_response;
    // Called once when no more responses will come (the server closed, or the call failed).
    std::function<void()> on_read_end;
    // Called once, last, with the call's status; nothing of the stream is used after it.
    std::function<void(const grpc::Status&)> on_done;
    // Instead of on_response, for a consumer that can be full: takes each response (on gRPC's
    // threads, in order, never blocking) and returns false to pause reading until ResumeReads().
    std::function<bool(Response&)> take_response;
  };

  explicit ClientStream(Options options) : options_(std::move(options)) {}
  ~ClientStream() override = default;
  ClientStream(const ClientStream&) = delete;
  ClientStream& operator=(const ClientStream&) = delete;

  // Set deadlines here before binding: stub->async()->Method(stream.context(), &stream).
  grpc::ClientContext* context() { return &context_; }

  // Starts the call (after the stub has bound it).
  void Start() {
    // Held until the read side ends: gRPC may otherwise finish the call (OnDone) while reading
    // is paused, and the responses still in flight would be lost.
    this->AddHold();
    // And until the write side is done (its half-close completed): once the server has ended
    // the call, a writer that is still to half-close must not touch a finished call.
    this->AddHold();
    this->StartRead(&response_);
    this->StartCall();
  }

  bool Write(Request request) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!QueueLocked(std::move(request))) return false;
    changed_.wait(lock,
                  [&] { return write_failed_ || pending_.size() <= options_.max_pending_writes; });
    return !write_failed_;
  }

  // Queues `request` without waiting; false once writing has failed or WritesDone was called.
  bool WriteNoWait(Request request) {
    std::lock_guard<std::mutex> lock(mu_);
    return QueueLocked(std::move(request));
  }

  // Writes queued behind the one in flight.
  size_t PendingWrites() {
    std::lock_guard<std::mutex> lock(mu_);
    return pending_.size();
  }

  // No more writes: half-closes once the queued ones are out.
  void WritesDone() {
    std::lock_guard<std::mutex> lock(mu_);
    if (writes_done_) return;
    writes_done_ = true;
    if (!writing_) SendWritesDoneLocked();  // Safe on a broken call: the write hold keeps it.
  }

  // The next response (inbox mode); false when the stream has no more.
  bool Read(Response* response) {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return !inbox_.empty() || read_ended_; });
    if (inbox_.empty()) return false;
    *response = std::move(inbox_.front());
    inbox_.pop_front();
    if (read_paused_ && inbox_.size() < options_.max_inbox) {
      read_paused_ = false;
      this->StartRead(&response_);
    }
    return true;
  }

  // Ends the call from the client's side without waiting (event-driven callers): cancels it,
  // closes the write side, and drops the responses still to come, so that on_done follows.
  void Abort() {
    context_.TryCancel();
    WritesDone();
    std::lock_guard<std::mutex> lock(mu_);
    discarding_ = true;
    if (read_paused_ && !read_ended_) {
      read_paused_ = false;
      this->StartRead(&response_);
    }
  }

  // Reading continues after take_response returned false (at once if it has not paused yet).
  void ResumeReads() {
    std::lock_guard<std::mutex> lock(mu_);
    if (read_ended_) return;
    if (!read_paused_) {
      resume_pending_ = true;  // take_response is about to pause: it must not.
      return;
    }
    read_paused_ = false;
    this->StartRead(&response_);
  }

  // Waits for the end of the call. Responses nobody took are read and dropped (cancel the call
  // first if the server would go on sending).
  grpc::Status Finish() {
    WritesDone();  // Releases the write side, if the caller did not.
    std::unique_lock<std::mutex> lock(mu_);
    discarding_ = true;
    inbox_.clear();
    if (read_paused_) {
      read_paused_ = false;
      this->StartRead(&response_);
    }
    changed_.wait(lock, [&] { return done_; });
    return status_;
  }

  // gRPC reactions.
  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok) {
      write_failed_ = true;
      pending_.clear();
    } else if (!pending_.empty()) {
      StartNextWriteLocked();
    }
    if (!writing_ && writes_done_) SendWritesDoneLocked();
    changed_.notify_all();
  }

  void OnWritesDoneDone(bool /*ok*/) override { this->RemoveHold(); }  // The write hold.

  void OnReadDone(bool ok) override {
    if (!ok) {
      EndReads();
      return;
    }
    if (options_.on_response) {
      options_.on_response(response_);
      this->StartRead(&response_);
      return;
    }
    if (options_.take_response) {
      bool discarding;
      {
        std::lock_guard<std::mutex> lock(mu_);
        discarding = discarding_;
      }
      const bool more = discarding || options_.take_response(response_);
      response_ = Response();
      std::lock_guard<std::mutex> lock(mu_);
      if (more || resume_pending_ || discarding_) {
        resume_pending_ = false;
        this->StartRead(&response_);
      } else {
        read_paused_ = true;
      }
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (discarding_) {
      this->StartRead(&response_);
      return;
    }
    inbox_.push_back(std::move(response_));
    response_ = Response();
    if (inbox_.size() < options_.max_inbox) {
      this->StartRead(&response_);
    } else {
      read_paused_ = true;
    }
    changed_.notify_all();
  }

  void OnDone(const grpc::Status& status) override {
    // Taken first: once done_ is set, a Finish() waiting for it may destroy this stream.
    const std::function<void(const grpc::Status&)> on_done = options_.on_done;
    {
      std::lock_guard<std::mutex> lock(mu_);
      status_ = status;
      write_failed_ = true;  // Nothing more can be written.
      done_ = true;
      changed_.notify_all();
    }
    if (on_done) on_done(status);  // May destroy this stream too: nothing of it is used after.
  }

 private:
  // Queues `request`, writing it at once if nothing is in flight; false once writing has failed
  // or WritesDone was called.
  bool QueueLocked(Request request) {
    if (write_failed_ || writes_done_) return false;
    pending_.push_back(std::move(request));
    if (!writing_) StartNextWriteLocked();
    return true;
  }

  void StartNextWriteLocked() {
    in_flight_ = std::move(pending_.front());
    pending_.pop_front();
    writing_ = true;
    this->StartWrite(&in_flight_);
  }

  void SendWritesDoneLocked() {
    if (writes_done_sent_) return;
    writes_done_sent_ = true;
    this->StartWritesDone();
  }

  void EndReads() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (read_ended_) return;
      read_ended_ = true;
      changed_.notify_all();
    }
    if (options_.on_read_end) options_.on_read_end();
    this->RemoveHold();
  }

  const Options options_;
  grpc::ClientContext context_;
  Response response_;  // The read in flight.

  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<Request> pending_;
  Request in_flight_;
  bool writing_ = false;
  bool write_failed_ = false;
  bool writes_done_ = false;
  bool writes_done_sent_ = false;
  std::deque<Response> inbox_;
  bool read_paused_ = false;
  bool resume_pending_ = false;
  bool read_ended_ = false;
  bool discarding_ = false;  // Finish() was called: responses are dropped.
  bool done_ = false;
  grpc::Status status_;
};

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_CLIENT_STREAM_H_
