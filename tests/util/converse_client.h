// A Converse client for tests and benchmarks: sends requests from the test thread and records
// every event (with its arrival time) on a reader thread, so a test can wait for what it expects
// with a deadline.
#ifndef VOXFLOW_TESTS_UTIL_CONVERSE_CLIENT_H_
#define VOXFLOW_TESTS_UTIL_CONVERSE_CLIENT_H_

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "voxflow/v1/orchestrator.grpc.pb.h"

namespace voxflow::testing {

struct TimedEvent {
  v1::ConverseEvent event;
  absl::Time received;
};

// Where a caller's requests go: one stream, or a call that follows its session across streams.
class RequestSink {
 public:
  virtual ~RequestSink() = default;
  // False once nothing more can be sent.
  virtual bool Send(const v1::ConverseRequest& request) = 0;
};

class ConverseClient : public RequestSink {
 public:
  // Opens the stream and sends `config`.
  ConverseClient(const std::shared_ptr<grpc::Channel>& channel, const v1::SessionConfig& config);
  // Opens the stream without sending anything (for protocol-error tests).
  explicit ConverseClient(const std::shared_ptr<grpc::Channel>& channel);
  ~ConverseClient() override;  // Cancels the call if it is still open.

  bool Send(const v1::ConverseRequest& request) override;
  // PCM in `chunk_ms` chunks with increasing sequence numbers (format from `config`).
  bool SendAudio(absl::string_view pcm, const v1::AudioStreamFormat& format, int chunk_ms = 20);
  bool SendText(const std::string& text);
  bool SendControl(v1::Control::Type type);
  void CloseSend();
  void Cancel() { context_.TryCancel(); }
  // Waits for the stream's status (after CloseSend, or an error from the server).
  grpc::Status Finish();

  // Waits until `done(events so far)` holds; false at the deadline.
  bool WaitFor(const std::function<bool(const std::vector<TimedEvent>&)>& done,
               absl::Duration timeout = absl::Seconds(30));
  // Waits for TurnCompleted of `turn_id`.
  bool WaitForTurn(int turn_id, absl::Duration timeout = absl::Seconds(30));
  std::vector<TimedEvent> events() const;
  // The events from index `from` on (a reader that keeps up copies each event once).
  std::vector<TimedEvent> EventsFrom(size_t from) const;
  // Events of one kind for one turn (turn_id 0: all turns).
  std::vector<TimedEvent> Filter(v1::ConverseEvent::EventCase kind, int turn_id = 0) const;
  std::string ReplyAudio(int turn_id) const;         // Concatenated reply audio of a turn.
  const v1::TurnCompleted* turn(int turn_id) const;  // Valid until the next call; null if absent.

 private:
  grpc::ClientContext context_;
  std::unique_ptr<v1::Orchestrator::Stub> stub_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::ConverseRequest, v1::ConverseEvent>> stream_;
  std::thread reader_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::vector<TimedEvent> events_;
  mutable std::vector<TimedEvent> snapshot_;
  bool read_done_ = false;
  bool finished_ = false;
  uint64_t sequence_ = 1;
  grpc::Status status_;
};

}  // namespace voxflow::testing

#endif  // VOXFLOW_TESTS_UTIL_CONVERSE_CLIENT_H_
