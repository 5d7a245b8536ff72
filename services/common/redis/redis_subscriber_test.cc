#include "services/common/redis/redis_subscriber.h"

#include <mutex>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "services/common/notification.h"
#include "services/common/redis/redis_client.h"
#include "tests/util/redis_server.h"

namespace voxflow {
namespace {

using testing::RedisServer;

TEST(RedisSubscriberTest, HandsOnMessagesAndListensAgainAfterTheServerComesBack) {
  absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  const RedisAddress address{"127.0.0.1", (*server)->port()};
  std::mutex mu;
  std::vector<std::string> messages;
  Notification first, second;
  RedisSubscriber subscriber(
      address, "events",
      [&](const std::string& message) {
        std::lock_guard<std::mutex> lock(mu);
        messages.push_back(message);
        (messages.size() == 1 ? first : second).Notify();
      },
      /*retry_after=*/absl::Milliseconds(50));
  ASSERT_TRUE(subscriber.WaitUntilSubscribed(1, absl::Seconds(10)));
  RedisClient publisher(address, {.retry_after = absl::ZeroDuration()});
  ASSERT_TRUE(publisher.Command({"PUBLISH", "events", std::string("one\n\0", 5)}).ok());
  ASSERT_TRUE(first.WaitForNotificationWithTimeout(absl::Seconds(10)));

  (*server)->Kill();
  ASSERT_TRUE((*server)->Restart().ok());
  ASSERT_TRUE(subscriber.WaitUntilSubscribed(2, absl::Seconds(10)));
  absl::StatusOr<RedisReply> receivers = publisher.Command({"PUBLISH", "events", "two"});
  ASSERT_TRUE(receivers.ok()) << receivers.status();
  ASSERT_EQ(receivers->integer, 1);
  ASSERT_TRUE(second.WaitForNotificationWithTimeout(absl::Seconds(10)));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(messages, (std::vector<std::string>{std::string("one\n\0", 5), "two"}));
}

TEST(RedisSubscriberTest, StopsPromptlyWhileConnectedOrWhileTheServerIsDown) {
  absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  const RedisAddress address{"127.0.0.1", (*server)->port()};
  {
    RedisSubscriber subscriber(address, "events", [](const std::string&) {});
    ASSERT_TRUE(subscriber.WaitUntilSubscribed(1, absl::Seconds(10)));
  }  // Stops while blocked in a read.
  (*server)->Kill();
  RedisSubscriber subscriber(
      address, "events", [](const std::string&) {}, absl::Hours(1));
  EXPECT_FALSE(subscriber.WaitUntilSubscribed(1, absl::Milliseconds(100)));
}  // Stops while waiting to retry.

}  // namespace
}  // namespace voxflow
