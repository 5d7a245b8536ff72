#include "services/common/redis/redis_client.h"

#include <string>

#include "gtest/gtest.h"
#include "tests/util/redis_server.h"

namespace voxflow {
namespace {

using testing::RedisServer;

TEST(ParseRedisUrlTest, TakesHostAndPort) {
  absl::StatusOr<RedisAddress> address = ParseRedisUrl("redis://redis.voxflow:6380", "flag");
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_EQ(address->host, "redis.voxflow");
  EXPECT_EQ(address->port, 6380);
  EXPECT_EQ(ParseRedisUrl("redis://10.0.0.7/", "flag")->port, 6379);
}

TEST(ParseRedisUrlTest, RefusesWhatIsNotAnAddressNamingTheField) {
  for (const char* url : {"", "http://h:1", "redis://", "redis://h:0", "redis://h:x",
                          "redis://user@h:1", "redis://h:1/0"}) {
    absl::StatusOr<RedisAddress> address = ParseRedisUrl(url, "--session_store");
    ASSERT_FALSE(address.ok()) << url;
    EXPECT_EQ(address.status().code(), absl::StatusCode::kInvalidArgument) << url;
    EXPECT_NE(address.status().message().find("--session_store"), std::string::npos) << url;
  }
}

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  RedisAddress address() const { return {"127.0.0.1", server_->port()}; }

  std::unique_ptr<RedisServer> server_;
};

TEST_F(RedisClientTest, RunsCommandsAndTransactions) {
  RedisClient client(address(), {});
  const std::string binary("a\0b\r\n", 5);
  ASSERT_TRUE(client.Command({"SET", "k", binary}).ok());
  absl::StatusOr<RedisReply> got = client.Command({"GET", "k"});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->text, binary);
  EXPECT_EQ(client.Command({"GET", "missing"})->type, RedisReply::Type::kNil);

  absl::StatusOr<std::vector<RedisReply>> replies =
      client.Transaction({{"RPUSH", "l", "x", "y"}, {"LRANGE", "l", "0", "-1"}});
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 2u);
  EXPECT_EQ((*replies)[0].integer, 2);
  ASSERT_EQ((*replies)[1].elements.size(), 2u);
  EXPECT_EQ((*replies)[1].elements[1].text, "y");
}

TEST_F(RedisClientTest, AnErrorReplyIsInternalAndTheConnectionStaysUsable) {
  RedisClient client(address(), {.max_idle_connections = 1});
  ASSERT_TRUE(client.Command({"SET", "s", "text"}).ok());
  absl::StatusOr<RedisReply> wrong = client.Command({"LPUSH", "s", "x"});
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(wrong.status().message().find("WRONGTYPE"), std::string::npos) << wrong.status();
  EXPECT_EQ(client.Command({"GET", "s"})->text, "text");
}

TEST_F(RedisClientTest, AServerThatIsDownFailsFastUntilTheBackOffEndsThenIsUsedAgain) {
  absl::Time now = absl::Now();
  RedisClient client(address(), {.retry_after = absl::Seconds(5), .now = [&now] { return now; }});
  ASSERT_TRUE(client.Command({"PING"}).ok());

  server_->Kill();
  absl::StatusOr<RedisReply> lost = client.Command({"PING"});  // The idle connection is dead.
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kUnavailable) << lost.status();
  ASSERT_TRUE(server_->Restart().ok());
  // Up again, but within the back-off: not tried.
  absl::StatusOr<RedisReply> backing_off = client.Command({"PING"});
  EXPECT_EQ(backing_off.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(backing_off.status().message().find("down"), std::string::npos) << backing_off.status();

  now += absl::Seconds(5);
  absl::StatusOr<RedisReply> back = client.Command({"PING"});
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->text, "PONG");
}

TEST(RedisClientDownTest, NothingListeningIsUnavailable) {
  // A port nothing listens on: connection refused at once.
  RedisClient client({"127.0.0.1", 1}, {});
  absl::StatusOr<RedisReply> reply = client.Command({"PING"});
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
  EXPECT_NE(reply.status().message().find("127.0.0.1:1"), std::string::npos);
}

}  // namespace
}  // namespace voxflow
