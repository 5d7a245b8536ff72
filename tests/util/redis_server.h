// A real Redis server (Debian's redis-server) for tests: on a free loopback port, in memory only,
// stopped with the object. Kill() and Restart() (same port, empty) play a store that goes away and
// comes back.
#ifndef VOXFLOW_TESTS_UTIL_REDIS_SERVER_H_
#define VOXFLOW_TESTS_UTIL_REDIS_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tests/util/server_process.h"

namespace voxflow::testing {

class RedisServer {
 public:
  // FAILED_PRECONDITION when redis-server is not installed (scripts/bootstrap installs it).
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start();

  int port() const { return port_; }
  // "redis://127.0.0.1:PORT", for --session_store.
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

  // SIGKILL: the server is gone, its data with it.
  void Kill();
  // A new, empty server on the same port.
  absl::Status Restart();

 private:
  explicit RedisServer(int port) : port_(port) {}
  absl::Status Run();

  const int port_;
  std::unique_ptr<ServerProcess> process_;
};

}  // namespace voxflow::testing

#endif  // VOXFLOW_TESTS_UTIL_REDIS_SERVER_H_
