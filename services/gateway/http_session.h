// HttpSession: one TCP connection's HTTP requests, until one upgrades to a WebSocket (then a
// WebSocketConnection takes the socket) or the client goes. Routes and refusals: gateway_server.h.
// It reports to the server that accepted it through GatewayHost.
#ifndef VOXFLOW_SERVICES_GATEWAY_HTTP_SESSION_H_
#define VOXFLOW_SERVICES_GATEWAY_HTTP_SESSION_H_

#include <memory>
#include <optional>
#include <string>

#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "services/gateway/gateway_host.h"

namespace voxflow::gateway {

class HttpSession final : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(boost::beast::tcp_stream stream, GatewayHost& server);
  void Run();

 private:
  using Request = boost::beast::http::request<boost::beast::http::empty_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;

  void ReadRequest();
  void OnRequest(boost::beast::error_code error, size_t bytes);
  void Route(Request request);
  void Upgrade(Request request, const std::string& path, const std::string& query);
  // GET /v1/describe: the orchestrator's pipelines and voices, as JSON.
  void Describe();
  // Why the request's bearer token is refused ("" when it passes or none is needed).
  std::string TokenRefusal(const Request& request, const std::string& query) const;
  void Respond(Response response);
  void Refuse(boost::beast::http::status status, const std::string& reason,
              const std::string& metric);

  boost::beast::tcp_stream stream_;
  GatewayHost& server_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::empty_body>> parser_;
  std::string client_;  // The peer's address, for per-client limits.
  bool keep_alive_ = false;
};

// The value of `name` in a URL query string (percent-decoded); empty when absent.
std::string QueryParameter(const std::string& query, const std::string& name);

}  // namespace voxflow::gateway

#endif  // VOXFLOW_SERVICES_GATEWAY_HTTP_SESSION_H_
