#include "services/gateway/gateway_server.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/asio/strand.hpp"
#include "services/gateway/http_session.h"
#include "spdlog/spdlog.h"

namespace voxflow::gateway {

namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(
    GatewayOptions options, std::shared_ptr<grpc::Channel> orchestrator) {
  int threads = options.threads;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::unique_ptr<GatewayServer> server(
      new GatewayServer(std::move(options), std::move(orchestrator), threads));
  boost::system::error_code error;
  const net::ip::address address = net::ip::make_address(server->options_.host, error);
  if (error) {
    return absl::InvalidArgumentError(
        absl::StrCat("--host: not an IP address: ", server->options_.host));
  }
  const tcp::endpoint endpoint(address, static_cast<uint16_t>(server->options_.port));
  server->acceptor_.open(endpoint.protocol(), error);
  if (!error) server->acceptor_.set_option(net::socket_base::reuse_address(true), error);
  if (!error) server->acceptor_.bind(endpoint, error);
  if (!error) server->acceptor_.listen(net::socket_base::max_listen_connections, error);
  if (error) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", server->options_.host, ":",
                                               server->options_.port, ": ", error.message()));
  }
  server->port_ = server->acceptor_.local_endpoint().port();
  server->AcceptNext();
  for (auto& context : server->contexts_) {
    server->threads_.emplace_back([io = context.get()] {
      // Runs until Stop(), idle or not.
      auto work = boost::asio::make_work_guard(*io);
      io->run();
    });
  }
  return server;
}

namespace {

std::vector<std::unique_ptr<net::io_context>> MakeContexts(int n) {
  std::vector<std::unique_ptr<net::io_context>> contexts;
  for (int i = 0; i < n; ++i) contexts.push_back(std::make_unique<net::io_context>(1));
  return contexts;
}

}  // namespace

GatewayServer::GatewayServer(GatewayOptions options, std::shared_ptr<grpc::Channel> orchestrator,
                             int threads)
    : options_(std::move(options)),
      orchestrator_(std::move(orchestrator)),
      contexts_(MakeContexts(threads)),
      acceptor_(net::make_strand(*contexts_.front())) {}

GatewayServer::~GatewayServer() { Stop(); }

void GatewayServer::AcceptNext() {
  net::io_context& context = *contexts_[next_context_++ % contexts_.size()];
  acceptor_.async_accept(
      net::make_strand(context), [this](boost::system::error_code error, tcp::socket socket) {
        if (error) {
          if (error == net::error::operation_aborted || !acceptor_.is_open()) return;
          spdlog::warn("accept failed: {}", error.message());
        } else {
          socket.set_option(tcp::no_delay(true), error);
          if (options_.socket_send_buffer_bytes > 0) {
            socket.set_option(net::socket_base::send_buffer_size(options_.socket_send_buffer_bytes),
                              error);
          }
          std::make_shared<HttpSession>(boost::beast::tcp_stream(std::move(socket)), *this)->Run();
        }
        AcceptNext();
      });
}

size_t GatewayServer::connections() {
  std::lock_guard<std::mutex> lock(mu_);
  return live_.size();
}

bool GatewayServer::Admit(const std::string& client) {
  std::lock_guard<std::mutex> lock(mu_);
  int& count = per_client_[client];
  if (options_.max_connections_per_client > 0 && count >= options_.max_connections_per_client) {
    if (count == 0) per_client_.erase(client);
    return false;
  }
  ++count;
  return true;
}

void GatewayServer::Register(const std::shared_ptr<WebSocketConnection>& connection) {
  std::lock_guard<std::mutex> lock(mu_);
  live_[connection.get()] = connection;
}

WebSocketConnection::OnClosed GatewayServer::ClosedCallback(const std::string& client) {
  return [this, client](WebSocketConnection* connection, uint16_t /*code*/) {
    std::lock_guard<std::mutex> lock(mu_);
    live_.erase(connection);
    auto it = per_client_.find(client);
    if (it != per_client_.end() && --it->second <= 0) per_client_.erase(it);
    closed_.notify_all();
  };
}

void GatewayServer::Drain() {
  draining_ = true;
  net::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  });
  std::unique_lock<std::mutex> lock(mu_);
  const auto deadline =
      std::chrono::steady_clock::now() + absl::ToChronoMilliseconds(options_.drain_timeout);
  if (!closed_.wait_until(lock, deadline, [this] { return live_.empty(); })) {
    spdlog::info("drain: {} calls still open after {}; closing them", live_.size(),
                 absl::FormatDuration(options_.drain_timeout));
    for (auto& [raw, weak] : live_) {
      if (auto connection = weak.lock()) connection->GoAway();
    }
    // A peer that never answers the close frame is cut by the close handshake's timeout.
    closed_.wait_for(lock, absl::ToChronoMilliseconds(options_.request_timeout) * 2,
                     [this] { return live_.empty(); });
  }
}

void GatewayServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  draining_ = true;
  net::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  });
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [raw, weak] : live_) {
      if (auto connection = weak.lock()) connection->GoAway();
    }
  }
  for (auto& context : contexts_) context->stop();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

}  // namespace voxflow::gateway
