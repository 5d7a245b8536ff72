// Runs a Voxflow server binary as a real child process for integration tests: starts it on a free
// loopback port, learns the port from its "listening on HOST:PORT" line, signals it, and waits for
// its exit with deadlines (never bare sleeps).
#ifndef VOXFLOW_TESTS_UTIL_SERVER_PROCESS_H_
#define VOXFLOW_TESTS_UTIL_SERVER_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace voxflow::testing {

class ServerProcess {
 public:
  // Starts `binary` with `--host=127.0.0.1 --port=0` plus `args`, and waits up to `startup` for it
  // to print its address. The child's stderr goes to the test log, or to the file `stderr_path`
  // when it is set.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(
      const std::string& binary, const std::vector<std::string>& args,
      absl::Duration startup = absl::Seconds(60), const std::string& stderr_path = "");

  // Starts `argv` as it is (argv[0] the binary) and waits up to `startup` for a line of its stdout
  // that contains `ready_marker` (a server that is not Voxflow's: Redis). port() is 0.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> StartCommand(
      const std::vector<std::string>& argv, const std::string& ready_marker,
      absl::Duration startup = absl::Seconds(30), const std::string& stderr_path = "");

  // Kills the child (SIGKILL) if it is still running.
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // The /metrics port from a "metrics on HOST:PORT" line (--metrics_port); 0 if none.
  int metrics_port() const { return metrics_port_; }
  // The HTTP port from a "http on HOST:PORT" line (the gateway's --http_port); 0 if none.
  int http_port() const { return http_port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Sends `signal` to the child.
  void Signal(int signal);

  // Everything the child printed on stdout until it closed it (or `timeout`): the lines read
  // while starting, then the rest.
  std::string ReadOutput(absl::Duration timeout);

  // Waits up to `timeout` for the child to exit. Returns its exit code, or 128+N if killed by
  // signal N; DEADLINE_EXCEEDED if it is still running.
  absl::StatusOr<int> WaitForExit(absl::Duration timeout);

 private:
  // Runs `argv`; done when `ready_marker` is in a line (empty: a "listening on" line with a port).
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Launch(std::vector<std::string> argv,
                                                               const std::string& ready_marker,
                                                               absl::Duration startup,
                                                               const std::string& stderr_path);
  ServerProcess(pid_t pid, int pidfd, int stdout_fd)
      : pid_(pid), pidfd_(pidfd), stdout_fd_(stdout_fd) {}

  pid_t pid_;
  int pidfd_;
  int stdout_fd_;
  int port_ = 0;
  int metrics_port_ = 0;
  int http_port_ = 0;
  std::string output_;  // Stdout read so far.
  std::optional<int> exit_code_;
};

}  // namespace voxflow::testing

#endif  // VOXFLOW_TESTS_UTIL_SERVER_PROCESS_H_
