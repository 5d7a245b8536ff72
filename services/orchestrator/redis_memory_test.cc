#include "services/orchestrator/redis_memory.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/util/redis_server.h"

namespace voxflow::orchestrator {
namespace {

using voxflow::testing::RedisServer;

class RedisMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    redis_ = std::make_unique<RedisClient>(RedisAddress{"127.0.0.1", server_->port()},
                                           RedisClient::Options{});
  }

  std::unique_ptr<RedisServer> server_;
  std::unique_ptr<RedisClient> redis_;
};

TEST_F(RedisMemoryTest, KeepsTheNewestExchangesInTurnOrderAndReplacesARecordedTurn) {
  RedisMemory memory(redis_.get(), absl::Minutes(10), /*max_exchanges_per_session=*/3);
  for (int turn = 1; turn <= 4; ++turn) {
    ASSERT_TRUE(
        memory.Record("s", {turn, "q" + std::to_string(turn), "a \"quoted\"\n", false}).ok());
  }
  ASSERT_TRUE(memory.Record("s", {4, "q4", "a4 as heard", true}).ok());
  absl::StatusOr<std::vector<Exchange>> all = memory.Fetch("s", 10);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0], (Exchange{2, "q2", "a \"quoted\"\n", false}));
  EXPECT_EQ((*all)[2], (Exchange{4, "q4", "a4 as heard", true}));
  EXPECT_EQ(memory.Fetch("s", 1)->front().turn_id, 4);
  EXPECT_TRUE(memory.Fetch("other", 10)->empty());

  // Another replica's view of the same store.
  RedisClient other_client({"127.0.0.1", server_->port()}, {});
  RedisMemory other(&other_client, absl::Minutes(10));
  EXPECT_EQ(other.Fetch("s", 10)->size(), 3u);
  other.Forget("s");
  EXPECT_TRUE(memory.Fetch("s", 10)->empty());
}

TEST_F(RedisMemoryTest, ASessionExpiresAfterItsTtl) {
  RedisMemory memory(redis_.get(), absl::Minutes(10));
  ASSERT_TRUE(memory.Record("s", {1, "q", "a", false}).ok());
  absl::StatusOr<RedisReply> ttl = redis_->Command({"PTTL", RedisMemory::Key("s")});
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(ttl->integer, 9 * 60 * 1000);
  EXPECT_LE(ttl->integer, 10 * 60 * 1000);
}

TEST_F(RedisMemoryTest, AStoreThatIsDownIsUnavailable) {
  RedisMemory memory(redis_.get(), absl::Minutes(10));
  server_->Kill();
  EXPECT_EQ(memory.Record("s", {1, "q", "a", false}).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(memory.Fetch("s", 10).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace voxflow::orchestrator
