// Shared server plumbing: a gRPC server with health checking and reflection, started from the
// common flags, and a graceful shutdown on SIGTERM/SIGINT.
#ifndef VOXFLOW_SERVICES_COMMON_SERVER_H_
#define VOXFLOW_SERVICES_COMMON_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/impl/service_type.h"
#include "grpcpp/server.h"
#include "services/common/security.h"

namespace voxflow {

struct ServerOptions {
  std::string name;  // For logs, e.g. "stt".
  std::string host = "127.0.0.1";
  int port = 0;  // 0 picks a free port; Server::port() tells which.
  // How long in-flight calls may run after a shutdown begins before they are cancelled.
  absl::Duration drain_timeout = absl::Seconds(3);
  // Connections older than this are asked to go away (GOAWAY), so that clients re-resolve and
  // spread over new replicas; calls in flight get `max_connection_age_grace` to finish.
  // Zero: no limit.
  absl::Duration max_connection_age = absl::ZeroDuration();
  absl::Duration max_connection_age_grace = absl::ZeroDuration();
  // TLS, mutual TLS and bearer-token authentication (plaintext when empty).
  ServerSecurity security;
  // Largest request message accepted (RESOURCE_EXHAUSTED beyond it); unary responses are bounded
  // by it too (clients accept 4 MiB by default).
  int max_message_bytes = 4 << 20;
  // For the services: streams one client may hold (0: no limit), and responses a stream may let
  // wait for a client that does not read.
  int max_streams_per_client = 0;
  size_t max_unread_bytes = 4 << 20;
  // Port of the Prometheus /metrics endpoint on `host` (-1: none; 0: a free one).
  int metrics_port = -1;
  // Fully-qualified service names whose health status is reported besides the server's ("").
  std::vector<std::string> health_services;
  // RunServerUntilSignal: called once the gRPC server serves, before its "listening on" line (a
  // server with a second listener starts it here; an error exits 1), and after the termination
  // signal, before the gRPC server drains (that listener drains first).
  std::function<absl::Status()> on_started;
  std::function<void()> on_terminating;
  // RunServerUntilSignal: called once every call is done, before the gRPC server is destroyed. A
  // server whose calls finish from a WorkerPool stops the pool here: a task may still be
  // returning from a call's Finish after gRPC has run the call's OnDone.
  std::function<void()> on_stopped;
};

class Server {
 public:
  // Builds and starts the server with `services` (not owned; they must outlive the server).
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options,
                                                       const std::vector<grpc::Service*>& services);

  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const { return port_; }
  std::string address() const;

  // Graceful shutdown: health flips to NOT_SERVING, new calls are refused, in-flight calls get
  // `drain_timeout` to finish and are cancelled after it. Returns when the server has stopped.
  void Shutdown();

 private:
  Server(ServerOptions options, std::unique_ptr<grpc::Server> server, int port);

  ServerOptions options_;
  std::unique_ptr<grpc::Server> server_;
  int port_;
  bool shut_down_ = false;
};

// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts afterwards, so that
// WaitForTerminationSignal() receives them. Call first thing in main().
void BlockTerminationSignals();

// Waits for SIGTERM or SIGINT (blocked beforehand) and returns the signal number.
int WaitForTerminationSignal();

// Flags shared by every Voxflow server (defined in server.cc): --host, --drain_timeout,
// --max_connection_age, --max_connection_age_grace, --metrics_port, --tls_cert, --tls_key,
// --tls_client_ca, --auth_tokens_file, --max_message_bytes, --max_streams_per_client,
// --max_unread_bytes, --log_format, --log_level.
// Fills the common fields of ServerOptions from them.
ServerOptions ServerOptionsFromFlags(std::string name, int port);

// The whole life of a server binary after flag parsing: logging from flags, start, print
// "<name> listening on HOST:PORT" on stdout, wait for SIGTERM/SIGINT, drain, stop. Returns the
// process exit code (0 after a clean shutdown).
int RunServerUntilSignal(const ServerOptions& options, const std::vector<grpc::Service*>& services);

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_SERVER_H_
