// gateway_server: callers on the phone (Twilio Media Streams) and in the browser, bridged over
// WebSockets to the orchestrator's Converse streams. HTTP and WebSockets on --http_port; gRPC
// health (and /metrics with --metrics_port) like every Voxflow server on --port.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/common/backend.h"
#include "services/common/security.h"
#include "services/common/server.h"
#include "services/gateway/gateway_server.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(int, port, 50053, "gRPC health port; 0 picks a free one (printed at start-up).");
ABSL_FLAG(int, http_port, 8080,
          "HTTP and WebSocket port (the page, /twilio, /v1/converse, /healthz); 0 picks a free "
          "one (printed at start-up as 'gateway http on HOST:PORT').");
ABSL_FLAG(std::string, orchestrator_target, "dns:///127.0.0.1:50050",
          "gRPC target of the orchestrator; dns:/// names are balanced round_robin.");
ABSL_FLAG(int, orchestrator_connect_timeout_ms, 2000,
          "How long a connection attempt to the orchestrator is given.");
ABSL_FLAG(std::string, orchestrator_tls_ca, "",
          "PEM CA to verify the orchestrator with: talk to it over TLS.");
ABSL_FLAG(std::string, orchestrator_tls_cert, "",
          "PEM client certificate for the orchestrator (mutual TLS, with --orchestrator_tls_key).");
ABSL_FLAG(std::string, orchestrator_tls_key, "", "PEM private key of --orchestrator_tls_cert.");
ABSL_FLAG(std::string, orchestrator_auth_token_file, "",
          "File holding the bearer token sent to the orchestrator (needs --orchestrator_tls_ca).");
ABSL_FLAG(std::string, ws_auth_tokens_file, "",
          "File of bearer tokens accepted on /v1/converse, one per line (Authorization header, "
          "or ?token= for browsers). Unset: no token needed.");
ABSL_FLAG(std::string, allowed_origins, "",
          "Comma-separated browser origins allowed on /v1/converse (e.g. "
          "https://app.example.com); '*' allows any; empty: this gateway's own page only.");
ABSL_FLAG(std::string, twilio_auth_token_file, "",
          "File holding the Twilio account's auth token: /twilio then requires a valid "
          "X-Twilio-Signature (403 otherwise).");
ABSL_FLAG(std::string, public_url, "",
          "Scheme and host Twilio connects to, as it signs them (e.g. wss://voice.example.com); "
          "empty: wss:// and the request's Host header.");
ABSL_FLAG(int, max_frame_bytes, 64 * 1024,
          "Largest WebSocket message accepted; a larger one closes the connection with 1009.");
ABSL_FLAG(absl::Duration, idle_timeout, absl::Seconds(30),
          "A WebSocket that sends nothing for this long is closed (1008).");
ABSL_FLAG(int, max_connections_per_client, 20,
          "WebSocket connections one client address may hold at once (0: no limit; 429 "
          "beyond).");
ABSL_FLAG(int64_t, max_queued_bytes, 1 << 20,
          "Bytes waiting for a caller who does not read before its call is ended (1008).");
ABSL_FLAG(int, socket_send_buffer_bytes, 64 * 1024,
          "Kernel send buffer of each connection (0: the kernel's autotuning, megabytes on a "
          "fast path: seconds of stale audio for a slow caller).");
ABSL_FLAG(int, io_threads, 0, "I/O threads for HTTP and WebSockets (0: the number of cores).");

namespace {

absl::StatusOr<std::string> ReadSecret(const std::string& path, const char* flag) {
  absl::StatusOr<std::string> content = voxflow::ReadFileToString(path);
  if (!content.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", content.status().message()));
  }
  std::string secret(absl::StripAsciiWhitespace(*content));
  if (secret.empty()) return absl::InvalidArgumentError(absl::StrCat("--", flag, ": empty file"));
  return secret;
}

}  // namespace

int main(int argc, char** argv) {
  voxflow::BlockTerminationSignals();
  absl::SetProgramUsageMessage(
      "Bridges WebSocket callers (Twilio Media Streams, browsers) to the orchestrator.");
  absl::ParseCommandLine(argc, argv);
  using voxflow::gateway::GatewayOptions;
  using voxflow::gateway::GatewayServer;

  voxflow::ServerOptions server_options =
      voxflow::ServerOptionsFromFlags("gateway", absl::GetFlag(FLAGS_port));

  GatewayOptions options;
  options.host = server_options.host;
  options.port = absl::GetFlag(FLAGS_http_port);
  options.threads = absl::GetFlag(FLAGS_io_threads);
  options.max_frame_bytes = static_cast<size_t>(std::max(1, absl::GetFlag(FLAGS_max_frame_bytes)));
  options.idle_timeout = absl::GetFlag(FLAGS_idle_timeout);
  options.max_connections_per_client = absl::GetFlag(FLAGS_max_connections_per_client);
  options.max_queued_bytes =
      static_cast<size_t>(std::max<int64_t>(4096, absl::GetFlag(FLAGS_max_queued_bytes)));
  options.drain_timeout = server_options.drain_timeout;
  options.socket_send_buffer_bytes = std::max(0, absl::GetFlag(FLAGS_socket_send_buffer_bytes));
  options.public_url = absl::GetFlag(FLAGS_public_url);
  for (absl::string_view origin :
       absl::StrSplit(absl::GetFlag(FLAGS_allowed_origins), ',', absl::SkipWhitespace())) {
    options.allowed_origins.emplace_back(absl::StripAsciiWhitespace(origin));
  }
  if (const std::string path = absl::GetFlag(FLAGS_ws_auth_tokens_file); !path.empty()) {
    absl::StatusOr<std::unordered_set<std::string>> tokens = voxflow::LoadTokens(path);
    if (!tokens.ok() || tokens->empty()) {
      std::fprintf(
          stderr, "gateway: --ws_auth_tokens_file: %s\n",
          tokens.ok() ? "no token in the file" : std::string(tokens.status().message()).c_str());
      return 2;
    }
    options.auth_tokens = *std::move(tokens);
  }
  if (const std::string path = absl::GetFlag(FLAGS_twilio_auth_token_file); !path.empty()) {
    absl::StatusOr<std::string> token = ReadSecret(path, "twilio_auth_token_file");
    if (!token.ok()) {
      std::fprintf(stderr, "gateway: %s\n", std::string(token.status().message()).c_str());
      return 2;
    }
    options.twilio_auth_token = *std::move(token);
  }

  voxflow::ClientSecurity security;
  security.tls_ca_file = absl::GetFlag(FLAGS_orchestrator_tls_ca);
  security.tls_cert_file = absl::GetFlag(FLAGS_orchestrator_tls_cert);
  security.tls_key_file = absl::GetFlag(FLAGS_orchestrator_tls_key);
  security.auth_token_file = absl::GetFlag(FLAGS_orchestrator_auth_token_file);
  voxflow::BackendOptions backend_options;
  backend_options.connect_timeout =
      absl::Milliseconds(absl::GetFlag(FLAGS_orchestrator_connect_timeout_ms));
  if (!security.tls_ca_file.empty() || !security.auth_token_file.empty()) {
    auto credentials = voxflow::MakeChannelCredentials(security);
    if (!credentials.ok()) {
      std::fprintf(stderr, "gateway: %s\n", std::string(credentials.status().message()).c_str());
      return 2;
    }
    backend_options.credentials = *std::move(credentials);
  }
  voxflow::Backend orchestrator("orchestrator", absl::GetFlag(FLAGS_orchestrator_target),
                                backend_options);

  std::unique_ptr<GatewayServer> gateway;
  server_options.on_started = [&]() -> absl::Status {
    absl::StatusOr<std::unique_ptr<GatewayServer>> started =
        GatewayServer::Start(options, orchestrator.channel());
    if (!started.ok()) return started.status();
    gateway = *std::move(started);
    spdlog::info("http on {}:{}", options.host, gateway->port());
    // Scripts and tests read the HTTP port from this line (before "listening on").
    std::printf("gateway http on %s:%d\n", options.host.c_str(), gateway->port());
    std::printf("gateway page: http://%s:%d/\n", options.host.c_str(), gateway->port());
    std::fflush(stdout);
    return absl::OkStatus();
  };
  server_options.on_terminating = [&] {
    if (gateway == nullptr) return;
    spdlog::info("draining {} calls for up to {}", gateway->connections(),
                 absl::FormatDuration(options.drain_timeout));
    gateway->Drain();
    gateway->Stop();
  };
  return voxflow::RunServerUntilSignal(server_options, {});
}
