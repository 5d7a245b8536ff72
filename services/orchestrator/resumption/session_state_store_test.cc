// The contract of a SessionStateStore, held by the in-process store and by Redis's (a real
// redis-server).
#include "services/orchestrator/resumption/session_state_store.h"

#include <memory>

#include "gtest/gtest.h"
#include "services/common/redis/redis_client.h"
#include "services/orchestrator/resumption/redis_session_state_store.h"
#include "tests/util/redis_server.h"

namespace voxflow::orchestrator {
namespace {

using voxflow::testing::RedisServer;

class SessionStateStoreTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (!GetParam()) {
      store_ = std::make_unique<InProcessSessionStateStore>();
      return;
    }
    absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    redis_ = std::make_unique<RedisClient>(RedisAddress{"127.0.0.1", server_->port()},
                                           RedisClient::Options{});
    store_ = std::make_unique<RedisSessionStateStore>(redis_.get(), absl::Minutes(5));
  }

  std::unique_ptr<RedisServer> server_;
  std::unique_ptr<RedisClient> redis_;
  std::unique_ptr<SessionStateStore> store_;
};

TEST_P(SessionStateStoreTest, ASessionIsCreatedOnceAndSavedByItsOwner) {
  ASSERT_TRUE(store_->Create("s", "a/1").ok());
  EXPECT_EQ(store_->Create("s", "b/1").code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(store_->Save("s", "a/1", {.last_turn_started = 3, .last_turn_completed = 2}).ok());
  // Counters only grow (saves may arrive out of order).
  ASSERT_TRUE(store_->Save("s", "a/1", {.last_turn_started = 2, .last_turn_completed = 1}).ok());
  absl::StatusOr<SessionRecord> before = store_->TakeOver("s", "b/1");
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(*before, (SessionRecord{3, 2, "a/1"}));
}

TEST_P(SessionStateStoreTest, ATakenOverSessionIsNoLongerTheOldOwners) {
  ASSERT_TRUE(store_->Create("s", "a/1").ok());
  ASSERT_TRUE(store_->TakeOver("s", "b/1").ok());
  EXPECT_EQ(store_->Save("s", "a/1", {.last_turn_started = 9}).code(), absl::StatusCode::kAborted);
  store_->Forget("s", "a/1");  // Not the owner's any more: kept.
  ASSERT_TRUE(store_->Save("s", "b/1", {.last_turn_started = 1}).ok());
  store_->Forget("s", "b/1");
  EXPECT_EQ(store_->TakeOver("s", "c/1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Save("s", "b/1", {}).code(), absl::StatusCode::kNotFound);
}

TEST_P(SessionStateStoreTest, ARecordIsRestoredWhereItWasLost) {
  ASSERT_TRUE(store_->Restore("s", {4, 4, "a/1"}).ok());
  EXPECT_EQ(*store_->TakeOver("s", "b/1"), (SessionRecord{4, 4, "a/1"}));
  EXPECT_EQ(store_->Restore("s", {5, 5, "a/1"}).code(), absl::StatusCode::kAborted);
}

INSTANTIATE_TEST_SUITE_P(Stores, SessionStateStoreTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("Redis") : std::string("InProcess");
                         });

TEST(RedisSessionStateStoreTest, ARecordExpiresAfterItsTtlFromTheLastWrite) {
  absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  RedisClient redis({"127.0.0.1", (*server)->port()}, {});
  RedisSessionStateStore store(&redis, absl::Minutes(5));
  ASSERT_TRUE(store.Create("s", "a/1").ok());
  absl::StatusOr<RedisReply> ttl = redis.Command({"PTTL", RedisSessionStateStore::Key("s")});
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(ttl->integer, 4 * 60 * 1000);
}

TEST(TakeOverMessageTest, RoundTrips) {
  std::string id, owner;
  ASSERT_TRUE(ParseTakeOverMessage(TakeOverMessage("s-1", "pod-a/7"), &id, &owner));
  EXPECT_EQ(id, "s-1");
  EXPECT_EQ(owner, "pod-a/7");
  EXPECT_FALSE(ParseTakeOverMessage("no newline", &id, &owner));
}

}  // namespace
}  // namespace voxflow::orchestrator
