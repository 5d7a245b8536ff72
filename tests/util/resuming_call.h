// ResumingCall: a caller's call that follows its session across streams and servers, as a client
// that follows moves does (ConverseResumer): on a Reconnect event, or a stream whose server went
// away (UNAVAILABLE), it opens a stream on the next target with the resume token and sends again
// the audio the old stream did not use. Events of every stream are recorded in one list.
#ifndef VOXFLOW_TESTS_UTIL_RESUMING_CALL_H_
#define VOXFLOW_TESTS_UTIL_RESUMING_CALL_H_

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "services/common/converse_resumer.h"
#include "tests/util/converse_client.h"
#include "voxflow/v1/orchestrator.grpc.pb.h"

namespace voxflow::testing {

class ResumingCall final : public RequestSink {
 public:
  // A stream switch, as the caller lived it.
  struct Switch {
    bool moved = false;  // A Reconnect event (else: the stream failed).
    absl::Time left;     // The Reconnect event, or the failed stream's end.
    absl::Time started;  // The new stream's SessionStarted (InfinitePast if none came).
    size_t target = 0;   // Index of the new stream's target.
  };

  // Starts on targets[0]; each switch goes to the next target (round).
  ResumingCall(std::vector<std::string> targets, v1::SessionConfig config);
  ~ResumingCall() override;  // Cancels what is still open.

  // Audio is remembered for resending; a request while no stream is open is sent once one is.
  bool Send(const v1::ConverseRequest& request) override;
  // Half-closes the current stream and waits for the call's end: the last stream's status.
  grpc::Status Finish(absl::Duration timeout = absl::Seconds(60));

  bool WaitFor(const std::function<bool(const std::vector<TimedEvent>&)>& done,
               absl::Duration timeout = absl::Seconds(30));
  std::vector<TimedEvent> events() const;
  std::vector<TimedEvent> Filter(v1::ConverseEvent::EventCase kind) const;
  std::vector<Switch> switches() const;
  // Index of the target the current stream is on.
  size_t target() const;

 private:
  struct Stream {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReaderWriter<v1::ConverseRequest, v1::ConverseEvent>> rw;
    std::thread reader;
    size_t target = 0;
  };
  // Opens a stream on targets_[target] and writes `first` on it (under mu_).
  void OpenLocked(size_t target, const std::vector<v1::ConverseRequest>& first);
  void Read(Stream* stream);

  const std::vector<std::string> targets_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  ConverseResumer resumer_;
  std::vector<std::unique_ptr<Stream>> streams_;  // The last is current.
  std::vector<TimedEvent> events_;
  std::vector<Switch> switches_;
  bool closing_ = false;
  bool done_ = false;
  grpc::Status status_;
};

}  // namespace voxflow::testing

#endif  // VOXFLOW_TESTS_UTIL_RESUMING_CALL_H_
