// ConverseUpstream: one Orchestrator.Converse stream on gRPC's callback API (ClientStream), for a
// connection that never blocks. Events arrive on gRPC's threads, in order, to on_event (which
// must not block); on_done comes once, last; the stream frees itself then. Send() refuses once
// too many requests wait for the network: a client that sends faster than real time cannot grow
// the gateway's memory.
#ifndef VOXFLOW_SERVICES_GATEWAY_CONVERSE_UPSTREAM_H_
#define VOXFLOW_SERVICES_GATEWAY_CONVERSE_UPSTREAM_H_

#include <functional>
#include <memory>
#include <mutex>

#include "absl/status/status.h"
#include "grpcpp/channel.h"
#include "services/common/client_stream.h"
#include "voxflow/v1/orchestrator.grpc.pb.h"

namespace voxflow::gateway {

class ConverseUpstream {
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
  // after the stream ended is dropped: on_done tells the end.
  bool Send(v1::ConverseRequest request);
  // Ends the call from our side (the caller is gone); on_done follows.
  void Cancel();

 private:
  using Stream = ClientStream<v1::ConverseRequest, v1::ConverseEvent>;
  ConverseUpstream() = default;

  std::mutex mu_;
  Stream* stream_ = nullptr;  // Owned by the call until its on_done; null after.
};

}  // namespace voxflow::gateway

#endif  // VOXFLOW_SERVICES_GATEWAY_CONVERSE_UPSTREAM_H_
