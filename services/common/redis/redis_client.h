// RedisClient: commands to one Redis server over a small pool of hiredis connections, each call
// bounded by a timeout. A server that cannot be reached is not retried on every call: for
// `retry_after` after a failure calls fail at once with UNAVAILABLE, so a store that is down costs
// its callers nothing but the fallback they choose.
//
// Thread-safe: each call holds a connection of its own; the pool's lock is never held over I/O.
#ifndef VOXFLOW_SERVICES_COMMON_REDIS_REDIS_CLIENT_H_
#define VOXFLOW_SERVICES_COMMON_REDIS_REDIS_CLIENT_H_

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

struct redisContext;

namespace voxflow {

struct RedisAddress {
  std::string host;
  int port = 6379;
  std::string ToString() const;
};

// "redis://HOST:PORT" (PORT defaults to 6379); INVALID_ARGUMENT naming `field` otherwise.
absl::StatusOr<RedisAddress> ParseRedisUrl(absl::string_view url, absl::string_view field);

// A reply, as hiredis gives it: a string (status, bulk or verbatim), an integer, nil or an array.
struct RedisReply {
  enum class Type { kNil, kString, kInteger, kArray };
  Type type = Type::kNil;
  std::string text;
  long long integer = 0;
  std::vector<RedisReply> elements;
};

class RedisClient {
 public:
  struct Options {
    absl::Duration connect_timeout = absl::Milliseconds(300);
    absl::Duration command_timeout = absl::Milliseconds(300);
    // After a failure to connect or to get an answer, calls fail at once for this long.
    absl::Duration retry_after = absl::Seconds(1);
    // Connections kept open between calls; more are opened when calls overlap.
    int max_idle_connections = 4;
    std::function<absl::Time()> now = [] { return absl::Now(); };
  };

  RedisClient(RedisAddress address, Options options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Runs one command (its words, binary-safe). UNAVAILABLE when the server cannot be reached or
  // does not answer in time; INTERNAL with Redis's message for an error reply.
  absl::StatusOr<RedisReply> Command(const std::vector<std::string>& words);
  // Runs `commands` as one MULTI/EXEC transaction (atomically, in one round trip); the replies of
  // the commands, in order.
  absl::StatusOr<std::vector<RedisReply>> Transaction(
      const std::vector<std::vector<std::string>>& commands);

  const RedisAddress& address() const { return address_; }

 private:
  // An open connection: an idle one (`reused`), or a new one. UNAVAILABLE while failures back
  // off.
  absl::StatusOr<redisContext*> Acquire(bool* reused);
  // Back to the pool (or closed), after a call that left it usable.
  void Release(redisContext* context);
  // Closes a connection that failed and backs off.
  absl::Status Fail(redisContext* context, absl::string_view what);
  absl::StatusOr<std::vector<RedisReply>> Run(
      const std::vector<std::vector<std::string>>& commands);
  // What became of a connection a call ran on.
  enum class Connection { kUsable, kBrokeBeforeAnyReply, kBroken };
  // Runs `commands` on `context`. kBrokeBeforeAnyReply: nothing was run, as far as the client
  // can tell.
  absl::StatusOr<std::vector<RedisReply>> RunOn(
      redisContext* context, const std::vector<std::vector<std::string>>& commands,
      Connection* connection);

  const RedisAddress address_;
  const Options options_;
  std::mutex mu_;
  std::vector<redisContext*> idle_;
  absl::Time down_until_ = absl::InfinitePast();
};

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_REDIS_REDIS_CLIENT_H_
