#include "tests/util/redis_server.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace voxflow::testing {
namespace {

constexpr char kRedisServer[] = "/usr/bin/redis-server";

// A loopback port free right now (Redis cannot be given port 0 and report the one it took).
absl::StatusOr<int> FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    close(fd);
    return absl::InternalError("cannot bind a loopback port");
  }
  close(fd);
  return ntohs(address.sin_port);
}

}  // namespace

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::Start() {
  if (access(kRedisServer, X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(kRedisServer, " is not installed (run scripts/bootstrap)"));
  }
  absl::Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {  // Another process may take the port first.
    absl::StatusOr<int> port = FreePort();
    if (!port.ok()) return port.status();
    std::unique_ptr<RedisServer> server(new RedisServer(*port));
    last = server->Run();
    if (last.ok()) return server;
  }
  return last;
}

absl::Status RedisServer::Run() {
  // In memory only (no RDB or AOF files), on loopback, logging to stdout where its ready line is.
  absl::StatusOr<std::unique_ptr<ServerProcess>> process = ServerProcess::StartCommand(
      {kRedisServer, "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "",
       "--appendonly", "no", "--logfile", "", "--daemonize", "no"},
      "Ready to accept connections");
  if (!process.ok()) return process.status();
  process_ = *std::move(process);
  return absl::OkStatus();
}

void RedisServer::Kill() {
  if (process_ == nullptr) return;
  process_->Signal(SIGKILL);
  (void)process_->WaitForExit(absl::Seconds(10));
  process_.reset();
}

absl::Status RedisServer::Restart() {
  Kill();
  return Run();
}

}  // namespace voxflow::testing
