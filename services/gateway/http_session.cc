#include "services/gateway/http_session.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "boost/asio/post.hpp"
#include "boost/beast/websocket.hpp"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "services/common/logging.h"
#include "services/gateway/gateway_metrics.h"
#include "services/gateway/twilio_signature.h"
#include "services/gateway/web_assets.h"
#include "spdlog/spdlog.h"
#include "voxflow/v1/orchestrator.grpc.pb.h"

namespace voxflow::gateway {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
               HexValue(text[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// Whether `origin` may open /v1/converse: listed, "*" listed, or (no list) the gateway's own.
bool OriginAllowed(const std::vector<std::string>& allowed, absl::string_view origin,
                   absl::string_view host) {
  if (allowed.empty()) {
    // Same origin: the page this gateway served, whatever its scheme.
    for (absl::string_view scheme : {"http://", "https://"}) {
      if (absl::EqualsIgnoreCase(origin, absl::StrCat(scheme, host))) return true;
    }
    return false;
  }
  return std::any_of(allowed.begin(), allowed.end(), [&](const std::string& entry) {
    return entry == "*" || absl::EqualsIgnoreCase(entry, origin);
  });
}

}  // namespace

std::string HttpSession::TokenRefusal(const Request& request, const std::string& query) const {
  const GatewayOptions& options = server_.options();
  if (options.auth_tokens.empty()) return "";
  std::string token;
  const auto authorization = request[http::field::authorization];
  const absl::string_view header(authorization.data(), authorization.size());
  if (absl::StartsWithIgnoreCase(header, "Bearer ")) {
    token = std::string(absl::StripAsciiWhitespace(header.substr(7)));
  } else {
    token = QueryParameter(query, "token");
  }
  if (token.empty()) return "a bearer token is required (Authorization header or ?token=)";
  if (options.auth_tokens.count(token) == 0) return "unknown bearer token";
  return "";
}

void HttpSession::Describe() {
  // One unary call; its answer comes back on this connection's strand.
  struct Call {
    grpc::ClientContext context;
    v1::DescribeRequest request;
    v1::DescribeResponse response;
  };
  auto call = std::make_shared<Call>();
  call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  auto stub = v1::Orchestrator::NewStub(server_.orchestrator());
  stub->async()->Describe(
      &call->context, &call->request, &call->response,
      [self = shared_from_this(), call](grpc::Status status) {
        boost::asio::post(self->stream_.get_executor(), [self, call, status] {
          if (!status.ok()) {
            self->Refuse(http::status::service_unavailable,
                         absl::StrCat("the orchestrator did not answer: ", status.error_message()),
                         "orchestrator");
            return;
          }
          std::string json;
          google::protobuf::util::JsonPrintOptions options;
          (void)google::protobuf::util::MessageToJsonString(call->response, &json, options);
          Response response{http::status::ok, 11};
          response.set(http::field::content_type, "application/json");
          response.set(http::field::cache_control, "no-store");
          response.body() = std::move(json);
          self->Respond(std::move(response));
        });
      });
}

std::string QueryParameter(const std::string& query, const std::string& name) {
  for (absl::string_view pair : absl::StrSplit(query, '&')) {
    const size_t eq = pair.find('=');
    if (PercentDecode(pair.substr(0, eq)) != name) continue;
    return eq == absl::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1));
  }
  return "";
}

HttpSession::HttpSession(beast::tcp_stream stream, GatewayHost& server)
    : stream_(std::move(stream)), server_(server) {
  beast::error_code error;
  const auto endpoint = stream_.socket().remote_endpoint(error);
  client_ = error ? "unknown" : endpoint.address().to_string();
}

void HttpSession::Run() { ReadRequest(); }

void HttpSession::ReadRequest() {
  parser_.emplace();
  parser_->header_limit(static_cast<uint32_t>(server_.options().max_header_bytes));
  parser_->body_limit(0);
  stream_.expires_after(absl::ToChronoMilliseconds(server_.options().request_timeout));
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&HttpSession::OnRequest, shared_from_this()));
}

void HttpSession::OnRequest(beast::error_code error, size_t /*bytes*/) {
  if (error == http::error::end_of_stream || error == beast::error::timeout) {
    // The client went, or stayed silent (a keep-alive connection, or a slowloris): close.
    if (error == beast::error::timeout && buffer_.size() > 0) {
      keep_alive_ = false;
      Refuse(http::status::request_timeout, "request not received in time", "timeout");
      return;
    }
    beast::error_code ignored;
    stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
    return;
  }
  if (error) {
    keep_alive_ = false;
    if (error == http::error::header_limit) {
      Refuse(http::status::request_header_fields_too_large, "request headers too large",
             "headers_too_large");
    } else if (error == http::error::body_limit) {
      Refuse(http::status::payload_too_large, "requests carry no body here", "body");
    } else {
      Refuse(http::status::bad_request, "malformed HTTP request", "malformed");
    }
    return;
  }
  Route(parser_->release());
}

void HttpSession::Route(Request request) {
  keep_alive_ = request.keep_alive();
  const std::string target(request.target());
  const size_t question = target.find('?');
  const std::string path = target.substr(0, question);
  const std::string query = question == std::string::npos ? "" : target.substr(question + 1);
  const bool websocket_path = path == "/twilio" || path == "/v1/converse";

  if (request.method() != http::verb::get && request.method() != http::verb::head) {
    Refuse(http::status::method_not_allowed, "only GET is served here", "method");
    return;
  }
  if (websocket::is_upgrade(request)) {
    if (!websocket_path) {
      Refuse(http::status::not_found, absl::StrCat("no WebSocket at ", QuoteClientValue(path)),
             "path");
      return;
    }
    Upgrade(std::move(request), path, query);
    return;
  }
  if (websocket_path) {
    Refuse(http::status::upgrade_required, absl::StrCat(path, " is a WebSocket endpoint"),
           "not_upgrade");
    return;
  }
  Response response{http::status::ok, request.version()};
  response.set(http::field::cache_control, "no-store");
  if (path == "/" || path == "/index.html") {
    response.set(http::field::content_type, "text/html; charset=utf-8");
    response.body() = kIndexHtml;
  } else if (path == "/app.js") {
    response.set(http::field::content_type, "text/javascript; charset=utf-8");
    response.body() = kAppJs;
  } else if (path == "/worklets.js") {
    response.set(http::field::content_type, "text/javascript; charset=utf-8");
    response.body() = kWorkletsJs;
  } else if (path == "/v1/describe") {
    if (std::string refused = TokenRefusal(request, query); !refused.empty()) {
      Refuse(http::status::unauthorized, refused, "token");
      return;
    }
    Describe();
    return;
  } else if (path == "/healthz") {
    response.set(http::field::content_type, "text/plain");
    if (server_.draining()) {
      response.result(http::status::service_unavailable);
      response.body() = "draining\n";
    } else {
      response.body() = "ok\n";
    }
  } else {
    Refuse(http::status::not_found, absl::StrCat("not found: ", QuoteClientValue(path)), "path");
    return;
  }
  if (request.method() == http::verb::head) response.body().clear();
  Respond(std::move(response));
}

void HttpSession::Upgrade(Request request, const std::string& path, const std::string& query) {
  keep_alive_ = false;
  const GatewayOptions& options = server_.options();
  if (server_.draining()) {
    Refuse(http::status::service_unavailable, "draining: connect to another replica", "draining");
    return;
  }
  CallKind kind;
  if (path == "/twilio") {
    kind = CallKind::kTwilio;
    if (options.twilio_auth_token.has_value()) {
      const std::string base =
          !options.public_url.empty()
              ? options.public_url
              : absl::StrCat("wss://", std::string(request[http::field::host]));
      const std::string url = absl::StrCat(base, std::string(request.target()));
      const auto signature = request["X-Twilio-Signature"];
      if (signature.empty() ||
          !TwilioSignatureValid(*options.twilio_auth_token, url,
                                absl::string_view(signature.data(), signature.size()))) {
        Refuse(http::status::forbidden,
               signature.empty() ? "X-Twilio-Signature is missing"
                                 : "X-Twilio-Signature does not match this URL",
               "signature");
        return;
      }
    }
  } else {
    kind = CallKind::kBrowser;
    const auto origin = request[http::field::origin];
    if (!origin.empty() &&
        !OriginAllowed(options.allowed_origins, absl::string_view(origin.data(), origin.size()),
                       absl::string_view(request[http::field::host].data(),
                                         request[http::field::host].size()))) {
      Refuse(
          http::status::forbidden,
          absl::StrCat("origin ", QuoteClientValue(absl::string_view(origin.data(), origin.size())),
                       " is not allowed (--allowed_origins)"),
          "origin");
      return;
    }
    if (std::string refused = TokenRefusal(request, query); !refused.empty()) {
      Refuse(http::status::unauthorized, refused, "token");
      return;
    }
  }
  if (!server_.Admit(client_)) {
    Refuse(http::status::too_many_requests,
           absl::StrCat("more than ", options.max_connections_per_client,
                        " connections from this client"),
           "client_limit");
    return;
  }
  stream_.expires_never();
  auto connection = std::make_shared<WebSocketConnection>(
      std::move(stream_), kind, server_.orchestrator(), options, server_.ClosedCallback(client_));
  server_.Register(connection);
  connection->Accept(std::move(request));
}

void HttpSession::Refuse(http::status status, const std::string& reason,
                         const std::string& metric) {
  GatewayMetrics::Refused(metric);
  spdlog::info("http {} from {}: {}", static_cast<int>(status), client_, reason);
  Response response{status, 11};
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  if (status == http::status::upgrade_required) {
    response.set(http::field::upgrade, "websocket");
  }
  response.body() = reason + "\n";
  keep_alive_ = false;
  Respond(std::move(response));
}

void HttpSession::Respond(Response response) {
  response.set(http::field::server, "voxflow-gateway");
  response.keep_alive(keep_alive_);
  response.prepare_payload();
  auto shared = std::make_shared<Response>(std::move(response));
  http::async_write(
      stream_, *shared, [self = shared_from_this(), shared](beast::error_code error, size_t) {
        if (!error && self->keep_alive_) {
          self->ReadRequest();
          return;
        }
        beast::error_code ignored;
        self->stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
      });
}

}  // namespace voxflow::gateway
