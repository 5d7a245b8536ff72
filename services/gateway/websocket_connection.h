// WebSocketConnection: one caller's WebSocket (Boost.Beast) bridged through a Call to one
// Converse stream. Everything runs on the connection's strand: frames read, events from the
// orchestrator (posted there from gRPC's threads), writes, the idle timer. No thread is held:
// reads and writes are asynchronous. A caller who does not read is ended, as the orchestrator
// ends its own slow readers: past max_queued_bytes waiting for it, the call closes (1008).
#ifndef VOXFLOW_SERVICES_GATEWAY_WEBSOCKET_CONNECTION_H_
#define VOXFLOW_SERVICES_GATEWAY_WEBSOCKET_CONNECTION_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "boost/asio/steady_timer.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/websocket.hpp"
#include "grpcpp/channel.h"
#include "services/gateway/call.h"
#include "services/gateway/converse_upstream.h"
#include "services/gateway/gateway_options.h"
#include "services/gateway/voice_clock.h"

namespace voxflow::gateway {

enum class CallKind { kTwilio, kBrowser };
const char* CallKindName(CallKind kind);

class WebSocketConnection final : public std::enable_shared_from_this<WebSocketConnection>,
                                  public CallIo {
 public:
  using Request = boost::beast::http::request<boost::beast::http::empty_body>;
  // Told once, when the connection is over (its close code: 1006 when none was exchanged).
  using OnClosed = std::function<void(WebSocketConnection*, uint16_t code)>;

  WebSocketConnection(boost::beast::tcp_stream stream, CallKind kind,
                      std::shared_ptr<grpc::Channel> orchestrator, const GatewayOptions& options,
                      OnClosed on_closed);
  ~WebSocketConnection() override;

  // Completes the upgrade `request` asked for, then serves the call.
  void Accept(Request request);
  // The gateway drains: close with 1001 (from any thread).
  void GoAway();

 private:
  struct Frame {
    bool text;
    std::string data;
  };

  // CallIo.
  void StartConverse(v1::SessionConfig config) override;
  void SendConverse(v1::ConverseRequest request) override;
  void CancelConverse() override;
  void SendText(std::string text) override;
  void SendBinary(std::string data) override;
  void Close(uint16_t code, std::string reason) override;

  void Read();
  void OnRead(boost::beast::error_code error, size_t bytes);
  void Queue(Frame frame);
  void WriteNext();
  void OnWritten(boost::beast::error_code error, size_t bytes);
  void CloseNow();
  void ArmIdleTimer();
  // Called from gRPC's threads: queues the event on the strand.
  void TakeEvent(v1::ConverseEvent& event);
  void Finish(uint16_t code);

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  const CallKind kind_;
  const std::shared_ptr<grpc::Channel> orchestrator_;
  const GatewayOptions& options_;
  const OnClosed on_closed_;
  boost::asio::steady_timer idle_timer_;
  std::chrono::steady_clock::time_point last_received_;
  boost::beast::flat_buffer buffer_;
  VoiceClock clock_;
  std::unique_ptr<Call> call_;
  std::shared_ptr<ConverseUpstream> upstream_;
  bool accepted_ = false;  // The upgrade completed: counted in the connection metrics.

  std::deque<Frame> outbox_;
  bool writing_ = false;
  bool closing_ = false;  // Close() was called: the close frame follows the outbox.
  bool close_sent_ = false;
  bool finished_ = false;
  uint16_t close_code_ = 1006;
  std::string close_reason_;
  // Bytes of events posted to the strand or waiting in the outbox (read from gRPC's threads).
  std::atomic<int64_t> backlog_{0};
};

}  // namespace voxflow::gateway

#endif  // VOXFLOW_SERVICES_GATEWAY_WEBSOCKET_CONNECTION_H_
