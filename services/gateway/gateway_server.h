// GatewayServer: the gateway's HTTP and WebSocket front, on Boost.Beast over a fixed pool of I/O
// threads (the cores; never a thread per connection), each running an io_context of its own:
// a connection lives on one of them (round-robin), so its handlers never wake another thread.
// It serves
//   GET /                      the browser page (and its script and audio worklets)
//   GET /healthz               200 "ok", or 503 "draining"
//   GET /v1/describe           the orchestrator's pipelines and voices (JSON; token as below)
//   GET /twilio      (upgrade) Twilio Media Streams, checked against X-Twilio-Signature
//   GET /v1/converse (upgrade) Voxflow's WebSocket protocol, for browsers and any client
// and refuses before the upgrade, with an HTTP status and a one-line reason: an unknown path
// (404), a method other than GET (405), a WebSocket path without an upgrade (426), a bad
// signature or origin (403), a missing or unknown token (401), a client over its connection
// limit (429), a draining gateway (503), an oversized or slow request (431/408).
#ifndef VOXFLOW_SERVICES_GATEWAY_GATEWAY_SERVER_H_
#define VOXFLOW_SERVICES_GATEWAY_GATEWAY_SERVER_H_

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "grpcpp/channel.h"
#include "services/gateway/gateway_host.h"
#include "services/gateway/gateway_options.h"
#include "services/gateway/websocket_connection.h"

namespace voxflow::gateway {

class GatewayServer final : public GatewayHost {
 public:
  static absl::StatusOr<std::unique_ptr<GatewayServer>> Start(
      GatewayOptions options, std::shared_ptr<grpc::Channel> orchestrator);
  ~GatewayServer() override;  // Stop().
  GatewayServer(const GatewayServer&) = delete;
  GatewayServer& operator=(const GatewayServer&) = delete;

  int port() const { return port_; }
  // WebSocket connections open now.
  size_t connections();

  // Stops accepting connections (/healthz says draining), lets calls in flight go on for
  // `drain_timeout`, closes those still open with 1001, and returns when every one has closed.
  void Drain();
  // Closes everything and stops the I/O threads.
  void Stop();

  // GatewayHost, for the HTTP sessions.
  bool draining() const override { return draining_; }
  const GatewayOptions& options() const override { return options_; }
  bool Admit(const std::string& client) override;
  void Register(const std::shared_ptr<WebSocketConnection>& connection) override;
  const std::shared_ptr<grpc::Channel>& orchestrator() const override { return orchestrator_; }
  WebSocketConnection::OnClosed ClosedCallback(const std::string& client) override;

 private:
  GatewayServer(GatewayOptions options, std::shared_ptr<grpc::Channel> orchestrator, int threads);
  void AcceptNext();

  const GatewayOptions options_;
  const std::shared_ptr<grpc::Channel> orchestrator_;
  // One io_context per I/O thread (concurrency hint 1: no locking between threads inside it).
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  size_t next_context_ = 0;  // On the acceptor's context.
  boost::asio::ip::tcp::acceptor acceptor_;
  int port_ = 0;
  std::vector<std::thread> threads_;
  std::atomic<bool> draining_{false};
  bool stopped_ = false;

  std::mutex mu_;
  std::condition_variable closed_;
  std::unordered_map<WebSocketConnection*, std::weak_ptr<WebSocketConnection>> live_;
  std::unordered_map<std::string, int> per_client_;
};

}  // namespace voxflow::gateway

#endif  // VOXFLOW_SERVICES_GATEWAY_GATEWAY_SERVER_H_
