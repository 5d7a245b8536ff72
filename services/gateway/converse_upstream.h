// ConverseUpstream: one caller's Orchestrator.Converse session on gRPC's callback API
// (ClientStream), for a connection that never blocks. Events arrive on gRPC's threads, in order,
// to on_event (which must not block); on_done comes once, last; the upstream frees itself then.
// Send() refuses once too many requests wait for the network: a client that sends faster than
// real time cannot grow the gateway's memory.
//
// The session outlives its stream (ConverseResumer): when the orchestrator moves it (a draining
// replica's Reconnect) or its replica goes away (UNAVAILABLE), the upstream opens another stream
// with the resume token and the audio the old one did not use; the caller hears the switch only
// as its reconnect time. on_event sees every stream's events (a second SessionStarted, resumed).
#ifndef VOXFLOW_SERVICES_GATEWAY_CONVERSE_UPSTREAM_H_
#define VOXFLOW_SERVICES_GATEWAY_CONVERSE_UPSTREAM_H_

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/status/status.h"
#include "grpcpp/channel.h"
#include "services/common/client_stream.h"
#include "services/common/converse_resumer.h"
#include "voxflow/v1/orchestrator.grpc.pb.h"

namespace voxflow::gateway {

class ConverseUpstream : public std::enable_shared_from_this<ConverseUpstream> {
 public:
  struct Callbacks {
    std::function<void(v1::ConverseEvent& event)> on_event;
    std::function<void(const absl::Status& status)> on_done;
  };
  // Requests that may wait for the network before Send refuses (5 s of 20 ms audio).
  static constexpr size_t kMaxPendingRequests = 250;

  // Opens the stream on `channel` and sends `config` first.
  static std::shared_ptr<ConverseUpstream> Start(const std::shared_ptr<grpc::Channel>& channel,
                                                 v1::SessionConfig config, Callbacks callbacks);

  // False when too many requests wait (the client sends faster than real time). A request sent
  // after the session ended is dropped: on_done tells the end.
  bool Send(v1::ConverseRequest request);
  // Ends the call from our side (the caller is gone); on_done follows.
  void Cancel();

 private:
  using Stream = ClientStream<v1::ConverseRequest, v1::ConverseEvent>;
  ConverseUpstream(std::shared_ptr<grpc::Channel> channel, v1::SessionConfig config,
                   Callbacks callbacks)
      : channel_(std::move(channel)),
        callbacks_(std::move(callbacks)),
        resumer_(std::move(config)) {}

  // Opens a stream and writes `first` on it.
  void OpenLocked(std::vector<v1::ConverseRequest> first);
  void OnEvent(v1::ConverseEvent& event);
  // A stream ended: the session goes on on another, or ends.
  void OnStreamDone(Stream* stream, const grpc::Status& status);

  const std::shared_ptr<grpc::Channel> channel_;
  const Callbacks callbacks_;
  std::mutex mu_;
  ConverseResumer resumer_;
  Stream* stream_ = nullptr;  // Owned by its call until its on_done; null between streams.
  bool moved_ = false;        // The current stream brought a Reconnect.
  bool cancelled_ = false;
};

}  // namespace voxflow::gateway

#endif  // VOXFLOW_SERVICES_GATEWAY_CONVERSE_UPSTREAM_H_
