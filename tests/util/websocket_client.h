// WebSocketClient: a WebSocket client for tests and benchmarks (Boost.Beast), on a thread of its
// own: Send() from any thread, every message received kept (and handed to an optional callback
// on that thread), the server's close code and reason once it closes.
#ifndef VOXFLOW_TESTS_UTIL_WEBSOCKET_CLIENT_H_
#define VOXFLOW_TESTS_UTIL_WEBSOCKET_CLIENT_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace voxflow::testing {

class WebSocketClient {
 public:
  struct Message {
    bool text = true;
    std::string data;
    absl::Time at;
  };
  struct Closed {
    int code = 1006;  // 1006: the connection ended without a close frame.
    std::string reason;
  };
  using Headers = std::vector<std::pair<std::string, std::string>>;

  // Connects to 127.0.0.1:`port` and upgrades `target` with `headers`. A refused upgrade is
  // FAILED_PRECONDITION "HTTP <status>: <body>" (and `http_status` is set).
  static absl::StatusOr<std::unique_ptr<WebSocketClient>> Connect(
      int port, const std::string& target, const Headers& headers = {}, int* http_status = nullptr,
      std::function<void(const Message&)> on_message = nullptr);
  // A peer that never reads what it is sent (a slow reader), with a small receive buffer so that
  // the server's writes back up at once; it can still send.
  static absl::StatusOr<std::unique_ptr<WebSocketClient>> ConnectWithoutReading(
      int port, const std::string& target);
  ~WebSocketClient();

  void Send(bool text, std::string data);
  void SendText(std::string text) { Send(true, std::move(text)); }
  // Starts the closing handshake.
  void Close(uint16_t code = 1000);

  std::vector<Message> messages();
  // Waits until `done(messages)` holds; false at the deadline.
  bool WaitFor(const std::function<bool(const std::vector<Message>&)>& done,
               absl::Duration timeout);
  // The close, once the connection is over; nullopt at the deadline.
  std::optional<Closed> WaitClosed(absl::Duration timeout);

 private:
  struct Impl;
  explicit WebSocketClient(std::unique_ptr<Impl> impl);
  static absl::StatusOr<std::unique_ptr<WebSocketClient>> Open(
      int port, const std::string& target, const Headers& headers, int* http_status,
      std::function<void(const Message&)> on_message, bool reads);
  void Read();
  void WriteNext();

  std::unique_ptr<Impl> impl_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<Message> messages_;
  std::optional<Closed> closed_;
  std::function<void(const Message&)> on_message_;
  std::deque<std::pair<bool, std::string>> outbox_;  // On the client's thread.
  bool writing_ = false;
  std::thread thread_;
};

// HTTP GET of `target` on 127.0.0.1:`port`: the status and body (tests of the plain routes).
absl::StatusOr<std::pair<int, std::string>> HttpGet(int port, const std::string& target,
                                                    const WebSocketClient::Headers& headers = {},
                                                    const std::string& method = "GET");

}  // namespace voxflow::testing

#endif  // VOXFLOW_TESTS_UTIL_WEBSOCKET_CLIENT_H_
