// Backend: a channel to another Voxflow service (the orchestrator's STT and TTS, the gateway's
// orchestrator). `dns:///host:port` targets are balanced round_robin over every address the name
// resolves to (a headless Kubernetes Service gives one per pod); keepalive pings find dead peers;
// reconnection backs off from 100 ms to 1 s, so a restarted backend is used again within about a
// second.
#ifndef VOXFLOW_SERVICES_COMMON_BACKEND_H_
#define VOXFLOW_SERVICES_COMMON_BACKEND_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"
#include "services/common/cancellation.h"

namespace voxflow {

struct BackendOptions {
  absl::Duration keepalive_time = absl::Seconds(20);
  absl::Duration keepalive_timeout = absl::Seconds(10);
  absl::Duration initial_reconnect_backoff = absl::Milliseconds(100);
  absl::Duration max_reconnect_backoff = absl::Seconds(1);
  // How long a call waits for the backend to be reachable before failing UNAVAILABLE.
  absl::Duration connect_timeout = absl::Seconds(2);
  // TLS / mutual TLS / bearer token toward the backend; null: plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
};

class Backend {
 public:
  // `name` is for messages ("stt"); `target` a gRPC target, e.g. "dns:///stt:50051".
  Backend(std::string name, std::string target, BackendOptions options = {});

  const std::string& name() const { return name_; }
  const std::string& target() const { return target_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  // How long a call waits for the backend to be reachable (stages give up on it after this:
  // their calls wait for the channel, and a timer checks it).
  absl::Duration connect_timeout() const { return options_.connect_timeout; }

 private:
  const std::string name_;
  const std::string target_;
  const BackendOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_BACKEND_H_
