#include "services/orchestrator/resumption/resumption.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "services/orchestrator/resumption/redis_session_state_store.h"

namespace voxflow::orchestrator {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

class FakeLiveSession final : public LiveSession {
 public:
  void EndTakenOver() override { ++ended; }
  void MoveAway() override {}
  int ended = 0;
};

// A shared store that can be taken down or lose its data; in process underneath.
class FlakyStore final : public SessionStateStore {
 public:
  absl::Status Create(const std::string& id, const std::string& owner) override {
    if (down) return Down();
    return data->Create(id, owner);
  }
  absl::StatusOr<SessionRecord> TakeOver(const std::string& id, const std::string& owner) override {
    if (down) return Down();
    return data->TakeOver(id, owner);
  }
  absl::Status Save(const std::string& id, const std::string& owner,
                    const SessionRecord& counters) override {
    if (down) return Down();
    return data->Save(id, owner, counters);
  }
  absl::Status Restore(const std::string& id, const SessionRecord& record) override {
    if (down) return Down();
    return data->Restore(id, record);
  }
  void Forget(const std::string& id, const std::string& owner) override {
    if (!down) data->Forget(id, owner);
  }
  static absl::Status Down() { return absl::UnavailableError("store down"); }

  bool down = false;
  std::shared_ptr<InProcessSessionStateStore> data = std::make_shared<InProcessSessionStateStore>();
};

class ResumptionTest : public ::testing::Test {
 protected:
  // A replica over the shared `data` (null: no shared store).
  std::unique_ptr<Resumption> Replica(const std::string& name, LiveSessions* live,
                                      bool shared = true) {
    std::unique_ptr<FlakyStore> store;
    if (shared) {
      store = std::make_unique<FlakyStore>();
      store->data = data_;
      stores_.push_back(store.get());
    }
    return std::make_unique<Resumption>(ResumeTokens("a key of sixteen bytes", absl::Hours(24)),
                                        live, std::move(store), name, &outage_,
                                        [] { return kNow; });
  }

  std::shared_ptr<InProcessSessionStateStore> data_ =
      std::make_shared<InProcessSessionStateStore>();
  std::vector<FlakyStore*> stores_;
  std::vector<std::string> warnings_;
  StoreOutage outage_{[this](const std::string& warning) { warnings_.push_back(warning); }};
  LiveSessions live_a_, live_b_;
};

TEST_F(ResumptionTest, ASessionLeftByOneReplicaResumesOnAnotherWithItsTurnNumbering) {
  auto a = Replica("a", &live_a_);
  auto b = Replica("b", &live_b_);
  auto stream = std::make_shared<FakeLiveSession>();
  absl::StatusOr<SessionClaim> first = a->Begin("call-7", "", stream);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->resumed);
  EXPECT_FALSE(first->resume_token.empty());
  a->Save(*first, {.last_turn_started = 5, .last_turn_completed = 4});
  a->Flush();
  a->End(*first, /*conversation_over=*/false);  // Moved, or the pod is going.

  // Its id is still the conversation's: a new session cannot take it.
  EXPECT_EQ(b->Begin("call-7", "", std::make_shared<FakeLiveSession>()).status().code(),
            absl::StatusCode::kAlreadyExists);
  absl::StatusOr<SessionClaim> resumed =
      b->Begin("", first->resume_token, std::make_shared<FakeLiveSession>());
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_TRUE(resumed->resumed);
  EXPECT_EQ(resumed->session_id, "call-7");
  EXPECT_EQ(resumed->before.last_turn_started, 5);
  EXPECT_EQ(resumed->before.last_turn_completed, 4);
  EXPECT_NE(resumed->owner, first->owner);
  EXPECT_TRUE(warnings_.empty());

  // Over for good: nothing to resume.
  b->End(*resumed, /*conversation_over=*/true);
  b->Flush();
  absl::StatusOr<SessionClaim> again = b->Begin("", first->resume_token, {});
  EXPECT_EQ(again.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(again.status().message().find("ended or expired"), std::string::npos) << again.status();
  EXPECT_TRUE(b->Begin("call-7", "", {}).ok());  // The id is free again.
}

TEST_F(ResumptionTest, AResumedSessionStillLiveIsTakenOverHereOrOnAnotherReplica) {
  auto a = Replica("a", &live_a_);
  auto b = Replica("b", &live_b_);
  auto old_stream = std::make_shared<FakeLiveSession>();
  absl::StatusOr<SessionClaim> first = a->Begin("", "", old_stream);
  ASSERT_TRUE(first.ok());

  // On the same replica: the old stream ends at once.
  auto second_stream = std::make_shared<FakeLiveSession>();
  absl::StatusOr<SessionClaim> second = a->Begin("", first->resume_token, second_stream);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(old_stream->ended, 1);

  // On another replica: the takeover's message ends it where it is live.
  absl::StatusOr<SessionClaim> third =
      b->Begin("", second->resume_token, std::make_shared<FakeLiveSession>());
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(second_stream->ended, 0);
  a->OnTakeOverMessage(TakeOverMessage(third->session_id, third->owner));
  EXPECT_EQ(second_stream->ended, 1);
  a->End(*second, /*conversation_over=*/false);
  EXPECT_EQ(live_a_.size(), 0u);
  EXPECT_EQ(live_b_.size(), 1u);
}

TEST_F(ResumptionTest, ASaveThatFindsTheSessionTakenOverEndsTheOldStream) {
  auto a = Replica("a", &live_a_);
  auto b = Replica("b", &live_b_);
  auto old_stream = std::make_shared<FakeLiveSession>();
  absl::StatusOr<SessionClaim> first = a->Begin("", "", old_stream);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(b->Begin("", first->resume_token, std::make_shared<FakeLiveSession>()).ok());
  a->Save(*first, {.last_turn_started = 1});  // The takeover's message was missed.
  a->Flush();
  EXPECT_EQ(old_stream->ended, 1);
}

TEST_F(ResumptionTest, ASessionAboutToMoveIsWrittenBeforeSaveNowReturns) {
  auto a = Replica("a", &live_a_);
  absl::StatusOr<SessionClaim> claim = a->Begin("", "", std::make_shared<FakeLiveSession>());
  ASSERT_TRUE(claim.ok());
  a->SaveNow(*claim, {.last_turn_started = 3, .last_turn_completed = 3});
  absl::StatusOr<SessionRecord> stored = data_->TakeOver(claim->session_id, "b/1");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->last_turn_completed, 3) << "no Flush: written by SaveNow itself";
}

TEST_F(ResumptionTest, BadTokensAreRefusedNamingTheField) {
  auto a = Replica("a", &live_a_);
  absl::StatusOr<SessionClaim> first = a->Begin("", "", std::make_shared<FakeLiveSession>());
  ASSERT_TRUE(first.ok());
  ResumeTokens other_key("another key, sixteen+", absl::Hours(1));
  absl::StatusOr<SessionClaim> forged = a->Begin("", other_key.Issue(first->session_id, kNow), {});
  EXPECT_EQ(forged.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(forged.status().message().find("config.resume_token"), std::string::npos);
  absl::StatusOr<SessionClaim> mismatched = a->Begin("other", first->resume_token, {});
  EXPECT_EQ(mismatched.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(mismatched.status().message().find("config.session_id"), std::string::npos);
}

TEST_F(ResumptionTest, AStoreThatIsDownFailsNoNewCallAndGetsItsRecordsBackWhenItReturns) {
  auto a = Replica("a", &live_a_);
  stores_[0]->down = true;
  absl::StatusOr<SessionClaim> claim = a->Begin("", "", std::make_shared<FakeLiveSession>());
  ASSERT_TRUE(claim.ok()) << claim.status();
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_NE(warnings_[0].find("store down"), std::string::npos) << warnings_[0];
  a->Save(*claim, {.last_turn_started = 1});
  a->Flush();
  EXPECT_EQ(warnings_.size(), 1u);  // Once per outage.

  stores_[0]->down = false;  // Back, without the record (a restarted Redis).
  a->Save(*claim, {.last_turn_started = 2, .last_turn_completed = 1});
  a->Flush();
  ASSERT_EQ(warnings_.size(), 2u);
  EXPECT_NE(warnings_[1].find("back"), std::string::npos);
  auto b = Replica("b", &live_b_);
  absl::StatusOr<SessionClaim> resumed = b->Begin("", claim->resume_token, {});
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->before.last_turn_started, 2);
}

TEST_F(ResumptionTest, WithoutASharedStoreOnlyALiveSessionResumes) {
  auto a = Replica("a", &live_a_, /*shared=*/false);
  EXPECT_FALSE(a->keeps_ended_sessions());
  auto stream = std::make_shared<FakeLiveSession>();
  absl::StatusOr<SessionClaim> first = a->Begin("", "", stream);
  ASSERT_TRUE(first.ok());
  a->Save(*first, {.last_turn_started = 3, .last_turn_completed = 3});
  absl::StatusOr<SessionClaim> second = a->Begin("", first->resume_token, {});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->before.last_turn_started, 3);
  EXPECT_EQ(stream->ended, 1);
  a->End(*first, false);  // The old stream's end changes nothing for the new one.
  a->End(*second, false);
  EXPECT_EQ(a->Begin("", first->resume_token, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace voxflow::orchestrator
