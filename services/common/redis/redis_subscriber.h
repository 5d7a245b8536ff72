// RedisSubscriber: one thread that listens on a Redis pub/sub channel and hands each message to a
// callback; it reconnects (after `retry_after`) when the server goes away. Messages published
// while it is disconnected are lost, as Redis pub/sub is: use it to learn of events early, not as
// the only way to learn of them.
#ifndef VOXFLOW_SERVICES_COMMON_REDIS_REDIS_SUBSCRIBER_H_
#define VOXFLOW_SERVICES_COMMON_REDIS_REDIS_SUBSCRIBER_H_

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "absl/time/time.h"
#include "services/common/redis/redis_client.h"

struct redisContext;

namespace voxflow {

class RedisSubscriber {
 public:
  // Starts listening; `on_message` runs on the subscriber's thread.
  RedisSubscriber(RedisAddress address, std::string channel,
                  std::function<void(const std::string& message)> on_message,
                  absl::Duration retry_after = absl::Seconds(1));
  // Stops and joins the thread.
  ~RedisSubscriber();
  RedisSubscriber(const RedisSubscriber&) = delete;
  RedisSubscriber& operator=(const RedisSubscriber&) = delete;

  // Waits up to `timeout` for the `count`th subscription (counting those after reconnecting) to
  // be in place: tests wait for it before publishing.
  bool WaitUntilSubscribed(int count, absl::Duration timeout);

 private:
  void Run();
  // Listens on one connection until it fails or Stop.
  void Listen(redisContext* context);

  const RedisAddress address_;
  const std::string channel_;
  const std::function<void(const std::string&)> on_message_;
  const absl::Duration retry_after_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  redisContext* listening_ = nullptr;  // Shut down by the destructor to end a blocking read.
  int subscriptions_ = 0;
  std::thread thread_;
};

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_REDIS_REDIS_SUBSCRIBER_H_
