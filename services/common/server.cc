#include "services/common/server.h"

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "services/common/grpc_logging.h"
#include "services/common/logging.h"
#include "services/common/metrics.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, host, "127.0.0.1",
          "Address to listen on (0.0.0.0 or [::] for every interface, e.g. in a container).");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(3),
          "On SIGTERM/SIGINT, how long in-flight calls may finish before they are cancelled.");
ABSL_FLAG(
    absl::Duration, max_connection_age, absl::ZeroDuration(),
    "Ask clients to reconnect after this long (0: never), so load spreads over new replicas.");
ABSL_FLAG(absl::Duration, max_connection_age_grace, absl::ZeroDuration(),
          "After max_connection_age, how long calls in flight may go on (0: gRPC's default, "
          "unlimited). Make it longer than a conversation.");
ABSL_FLAG(int, metrics_port, -1,
          "Serve Prometheus metrics at http://HOST:PORT/metrics (-1: off; 0 picks a free port, "
          "printed at start-up).");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain: serve over TLS (with --tls_key).");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA: clients must present a certificate it signed (mutual TLS).");
ABSL_FLAG(std::string, auth_tokens_file, "",
          "File of accepted bearer tokens, one per line: every call but health needs one "
          "(needs TLS).");
ABSL_FLAG(int, max_message_bytes, 4 << 20,
          "Largest request message accepted, and largest unary response sent.");
ABSL_FLAG(int, max_streams_per_client, 0,
          "Streams (conversations, for the orchestrator) one client may hold at once; more get "
          "RESOURCE_EXHAUSTED. A client is its bearer token when tokens are checked, else its IP "
          "address. 0: no per-client limit.");
ABSL_FLAG(int64_t, max_unread_bytes, 4 << 20,
          "Responses a stream may let wait for a client that does not read; past it the call "
          "ends with RESOURCE_EXHAUSTED (counted in voxflow_slow_reader_total).");
ABSL_FLAG(std::string, log_format, "text", "Log format: text (terminal) or json (one per line).");
ABSL_FLAG(std::string, log_level, "info", "Log level: trace, debug, info, warn, error or off.");

namespace voxflow {

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options,
                                                      const std::vector<grpc::Service*>& services) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder builder;
  int port = 0;
  const std::string address = absl::StrCat(options.host, ":", options.port);
  // Accept the keepalive pings of clients that hold long streams (the orchestrator pings its
  // backends every 20 s); gRPC's default would answer them with GOAWAY too_many_pings.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  if (options.max_connection_age > absl::ZeroDuration()) {
    builder.AddChannelArgument(
        GRPC_ARG_MAX_CONNECTION_AGE_MS,
        static_cast<int>(absl::ToInt64Milliseconds(options.max_connection_age)));
  }
  if (options.max_connection_age_grace > absl::ZeroDuration()) {
    builder.AddChannelArgument(
        GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
        static_cast<int>(absl::ToInt64Milliseconds(options.max_connection_age_grace)));
  }
  builder.experimental().SetInterceptorCreators(GrpcServerMetricsInterceptors());
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      MakeServerCredentials(options.security);
  if (!credentials.ok()) return credentials.status();
  builder.AddListeningPort(address, *credentials, &port);
  for (grpc::Service* service : services) builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address));
  }
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  health->SetServingStatus(true);
  for (const std::string& name : options.health_services) health->SetServingStatus(name, true);
  return std::unique_ptr<Server>(new Server(options, std::move(server), port));
}

Server::Server(ServerOptions options, std::unique_ptr<grpc::Server> server, int port)
    : options_(std::move(options)), server_(std::move(server)), port_(port) {}

Server::~Server() { Shutdown(); }

std::string Server::address() const { return absl::StrCat(options_.host, ":", port_); }

void Server::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  // Load balancers and Kubernetes probes watching health stop routing here first.
  server_->GetHealthCheckService()->SetServingStatus(false);
  server_->Shutdown(absl::ToChronoTime(absl::Now() + options_.drain_timeout));
  server_->Wait();
}

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForTerminationSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int signal = 0;
  while (sigwait(&set, &signal) != 0) {
  }
  return signal;
}

ServerOptions ServerOptionsFromFlags(std::string name, int port) {
  ServerOptions options;
  options.name = std::move(name);
  options.host = absl::GetFlag(FLAGS_host);
  options.port = port;
  options.drain_timeout = absl::GetFlag(FLAGS_drain_timeout);
  options.max_connection_age = absl::GetFlag(FLAGS_max_connection_age);
  options.max_connection_age_grace = absl::GetFlag(FLAGS_max_connection_age_grace);
  options.metrics_port = absl::GetFlag(FLAGS_metrics_port);
  options.security.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.security.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  options.security.tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  options.security.auth_tokens_file = absl::GetFlag(FLAGS_auth_tokens_file);
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  options.max_streams_per_client = absl::GetFlag(FLAGS_max_streams_per_client);
  options.max_unread_bytes =
      static_cast<size_t>(std::max<int64_t>(absl::GetFlag(FLAGS_max_unread_bytes), 64 << 10));
  return options;
}

int RunServerUntilSignal(const ServerOptions& options,
                         const std::vector<grpc::Service*>& services) {
  LogFormat format;
  if (absl::Status status = ParseLogFormat(absl::GetFlag(FLAGS_log_format), &format);
      !status.ok()) {
    std::fprintf(stderr, "%s: --log_format: %s\n", options.name.c_str(),
                 std::string(status.message()).c_str());
    return 2;
  }
  if (absl::Status status = InitLogging(options.name, format, absl::GetFlag(FLAGS_log_level));
      !status.ok()) {
    std::fprintf(stderr, "%s: --log_level: %s\n", options.name.c_str(),
                 std::string(status.message()).c_str());
    return 2;
  }

  RouteGrpcLogsToSpdlog();

  std::unique_ptr<MetricsServer> metrics;
  if (options.metrics_port >= 0) {
    absl::StatusOr<std::unique_ptr<MetricsServer>> started =
        MetricsServer::Start(options.host, options.metrics_port);
    if (!started.ok()) {
      spdlog::error("{}", started.status().message());
      return 1;
    }
    metrics = *std::move(started);
    // Before the "listening on" line, so that whoever waits for that one has both.
    std::printf("%s metrics on %s:%d\n", options.name.c_str(), options.host.c_str(),
                metrics->port());
  }
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options, services);
  if (!server.ok()) {
    spdlog::error("{}", server.status().message());
    return 1;
  }
  if (options.on_started) {
    if (absl::Status status = options.on_started(); !status.ok()) {
      spdlog::error("{}", status.message());
      return 1;
    }
  }
  spdlog::info("listening on {}", (*server)->address());
  // Scripts and tests read the chosen port from this line.
  std::printf("%s listening on %s\n", options.name.c_str(), (*server)->address().c_str());
  std::fflush(stdout);

  const int signal = WaitForTerminationSignal();
  spdlog::info("received {}, draining for up to {}", strsignal(signal),
               absl::FormatDuration(options.drain_timeout));
  if (options.on_terminating) options.on_terminating();
  (*server)->Shutdown();
  if (options.on_stopped) options.on_stopped();
  spdlog::info("stopped");
  return 0;
}

}  // namespace voxflow
