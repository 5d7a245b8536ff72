#include "tests/util/websocket_client.h"

#include "absl/strings/str_cat.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/websocket.hpp"

namespace voxflow::testing {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;

struct WebSocketClient::Impl {
  net::io_context io;
  websocket::stream<tcp::socket> ws{io};
  beast::flat_buffer buffer;
};

absl::StatusOr<std::unique_ptr<WebSocketClient>> WebSocketClient::Connect(
    int port, const std::string& target, const Headers& headers, int* http_status,
    std::function<void(const Message&)> on_message) {
  return Open(port, target, headers, http_status, std::move(on_message), /*reads=*/true);
}

absl::StatusOr<std::unique_ptr<WebSocketClient>> WebSocketClient::ConnectWithoutReading(
    int port, const std::string& target) {
  return Open(port, target, {}, nullptr, nullptr, /*reads=*/false);
}

absl::StatusOr<std::unique_ptr<WebSocketClient>> WebSocketClient::Open(
    int port, const std::string& target, const Headers& headers, int* http_status,
    std::function<void(const Message&)> on_message, bool reads) {
  auto impl = std::make_unique<Impl>();
  beast::error_code error;
  if (!reads) {
    impl->ws.next_layer().open(tcp::v4(), error);
    impl->ws.next_layer().set_option(net::socket_base::receive_buffer_size(2048), error);
  }
  impl->ws.next_layer().connect(
      tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)), error);
  if (error) return absl::UnavailableError(absl::StrCat("connect: ", error.message()));
  impl->ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
    for (const auto& [name, value] : headers) req.set(name, value);
  }));
  impl->ws.read_message_max(64 << 20);
  websocket::response_type response;
  impl->ws.handshake(response, absl::StrCat("127.0.0.1:", port), target, error);
  if (error) {
    // Refused: the same request as plain HTTP tells the status and the reason.
    WebSocketClient::Headers upgrade = headers;
    upgrade.emplace_back("Connection", "Upgrade");
    upgrade.emplace_back("Upgrade", "websocket");
    upgrade.emplace_back("Sec-WebSocket-Version", "13");
    upgrade.emplace_back("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
    absl::StatusOr<std::pair<int, std::string>> refused = HttpGet(port, target, upgrade);
    if (!refused.ok()) {
      return absl::UnavailableError(absl::StrCat("handshake: ", error.message()));
    }
    if (http_status != nullptr) *http_status = refused->first;
    return absl::FailedPreconditionError(
        absl::StrCat("HTTP ", refused->first, ": ", refused->second));
  }
  if (http_status != nullptr) *http_status = 101;
  std::unique_ptr<WebSocketClient> client(new WebSocketClient(std::move(impl)));
  client->on_message_ = std::move(on_message);
  if (reads) client->Read();
  client->thread_ = std::thread([io = &client->impl_->io] {
    auto work = net::make_work_guard(*io);  // Writes may come later, reads or not.
    io->run();
  });
  return client;
}

WebSocketClient::WebSocketClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

WebSocketClient::~WebSocketClient() {
  net::post(impl_->io, [this] {
    beast::error_code ignored;
    beast::get_lowest_layer(impl_->ws).close(ignored);
    impl_->io.stop();
  });
  if (thread_.joinable()) thread_.join();
}

void WebSocketClient::Read() {
  impl_->ws.async_read(impl_->buffer, [this](beast::error_code error, size_t) {
    if (error) {
      std::lock_guard<std::mutex> lock(mu_);
      Closed closed;
      // The server's close frame, whoever began the closing handshake.
      if (error == websocket::error::closed || impl_->ws.reason().code != 0) {
        closed.code = impl_->ws.reason().code;
        closed.reason = std::string(impl_->ws.reason().reason.c_str());
      }
      if (!closed_.has_value()) closed_ = closed;
      changed_.notify_all();
      return;
    }
    Message message;
    message.text = impl_->ws.got_text();
    message.data = beast::buffers_to_string(impl_->buffer.data());
    message.at = absl::Now();
    impl_->buffer.consume(impl_->buffer.size());
    if (on_message_) on_message_(message);
    {
      std::lock_guard<std::mutex> lock(mu_);
      messages_.push_back(std::move(message));
      changed_.notify_all();
    }
    Read();
  });
}

void WebSocketClient::Send(bool text, std::string data) {
  net::post(impl_->io, [this, text, data = std::move(data)]() mutable {
    outbox_.emplace_back(text, std::move(data));
    WriteNext();
  });
}

void WebSocketClient::WriteNext() {
  if (writing_ || outbox_.empty()) return;
  writing_ = true;
  impl_->ws.text(outbox_.front().first);
  impl_->ws.async_write(net::buffer(outbox_.front().second), [this](beast::error_code, size_t) {
    writing_ = false;
    outbox_.pop_front();
    WriteNext();
  });
}

void WebSocketClient::Close(uint16_t code) {
  net::post(impl_->io, [this, code] {
    websocket::close_reason reason;
    reason.code = code;
    impl_->ws.async_close(reason, [](beast::error_code) {});
  });
}

std::vector<WebSocketClient::Message> WebSocketClient::messages() {
  std::lock_guard<std::mutex> lock(mu_);
  return messages_;
}

bool WebSocketClient::WaitFor(const std::function<bool(const std::vector<Message>&)>& done,
                              absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return changed_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                           [&] { return done(messages_); });
}

std::optional<WebSocketClient::Closed> WebSocketClient::WaitClosed(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait_for(lock, absl::ToChronoMilliseconds(timeout), [&] { return closed_.has_value(); });
  return closed_;
}

absl::StatusOr<std::pair<int, std::string>> HttpGet(int port, const std::string& target,
                                                    const WebSocketClient::Headers& headers,
                                                    const std::string& method) {
  net::io_context io;
  tcp::socket socket(io);
  beast::error_code error;
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)),
                 error);
  if (error) return absl::UnavailableError(absl::StrCat("connect: ", error.message()));
  http::request<http::string_body> request{http::string_to_verb(method), target, 11};
  request.set(http::field::host, absl::StrCat("127.0.0.1:", port));
  for (const auto& [name, value] : headers) request.set(name, value);
  request.prepare_payload();
  http::write(socket, request, error);
  if (error) return absl::UnavailableError(absl::StrCat("write: ", error.message()));
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(socket, buffer, response, error);
  if (error) return absl::UnavailableError(absl::StrCat("read: ", error.message()));
  return std::make_pair(response.result_int(), response.body());
}

}  // namespace voxflow::testing
