#include "services/orchestrator/fallback_memory.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace voxflow::orchestrator {
namespace {

// A shared store that can be taken down: in process underneath, UNAVAILABLE while down.
class FlakyStore final : public ConversationMemory {
 public:
  absl::StatusOr<std::vector<Exchange>> Fetch(absl::string_view session_id,
                                              size_t max_exchanges) override {
    if (down) return absl::UnavailableError("store down");
    return data.Fetch(session_id, max_exchanges);
  }
  absl::Status Record(absl::string_view session_id, Exchange exchange) override {
    if (down) return absl::UnavailableError("store down");
    return data.Record(session_id, std::move(exchange));
  }
  void Forget(absl::string_view session_id) override {
    if (!down) data.Forget(session_id);
  }

  bool down = false;
  InProcessMemory data;
};

Exchange Turn(int id) { return {id, "question " + std::to_string(id), "answer", false}; }

std::vector<int> TurnIds(const std::vector<Exchange>& exchanges) {
  std::vector<int> ids;
  for (const Exchange& exchange : exchanges) ids.push_back(exchange.turn_id);
  return ids;
}

class FallbackMemoryTest : public ::testing::Test {
 protected:
  FallbackMemoryTest() {
    auto store = std::make_unique<FlakyStore>();
    store_ = store.get();
    memory_ = std::make_unique<FallbackMemory>(std::move(store), &outage_);
  }

  FlakyStore* store_;
  std::unique_ptr<FallbackMemory> memory_;
  std::vector<std::string> warnings_;
  StoreOutage outage_{[this](const std::string& warning) { warnings_.push_back(warning); }};
};

TEST_F(FallbackMemoryTest, WritesToTheStoreAndReadsWhatAnotherReplicaWrote) {
  ASSERT_TRUE(memory_->Record("s", Turn(1)).ok());
  EXPECT_EQ(TurnIds(*store_->data.Fetch("s", 10)), std::vector<int>({1}));
  // Written by another replica: only in the store.
  ASSERT_TRUE(store_->data.Record("s", Turn(2)).ok());
  EXPECT_EQ(TurnIds(*memory_->Fetch("s", 10)), std::vector<int>({1, 2}));
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(FallbackMemoryTest, AStoreThatIsDownFailsNoCallWarnsOnceAndIsWrittenAgainWhenBack) {
  ASSERT_TRUE(memory_->Record("s", Turn(1)).ok());
  store_->down = true;
  EXPECT_TRUE(memory_->Record("s", Turn(2)).ok());
  EXPECT_TRUE(memory_->Record("s", Turn(3)).ok());
  absl::StatusOr<std::vector<Exchange>> during = memory_->Fetch("s", 10);
  ASSERT_TRUE(during.ok());
  EXPECT_EQ(TurnIds(*during), std::vector<int>({1, 2, 3}));
  EXPECT_TRUE(memory_->store_down());
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_NE(warnings_[0].find("store down"), std::string::npos) << warnings_[0];

  // Back, but empty (a restarted Redis): the next write puts the whole session back.
  store_->down = false;
  store_->data.Forget("s");
  ASSERT_TRUE(memory_->Record("s", Turn(4)).ok());
  EXPECT_EQ(TurnIds(*store_->data.Fetch("s", 10)), std::vector<int>({1, 2, 3, 4}));
  EXPECT_FALSE(memory_->store_down());
  ASSERT_EQ(warnings_.size(), 2u);
  EXPECT_NE(warnings_[1].find("back"), std::string::npos) << warnings_[1];
}

TEST_F(FallbackMemoryTest, AFetchAfterAnOutageDoesNotReadTheStoresStaleCopy) {
  ASSERT_TRUE(memory_->Record("s", Turn(1)).ok());
  store_->down = true;
  ASSERT_TRUE(memory_->Record("s", Turn(2)).ok());
  store_->down = false;
  EXPECT_EQ(TurnIds(*memory_->Fetch("s", 10)), std::vector<int>({1, 2}));
  EXPECT_EQ(TurnIds(*store_->data.Fetch("s", 10)), std::vector<int>({1, 2}));  // Resynced.
}

TEST_F(FallbackMemoryTest, ForgetsInBoth) {
  ASSERT_TRUE(memory_->Record("s", Turn(1)).ok());
  memory_->Forget("s");
  EXPECT_TRUE(store_->data.Fetch("s", 10)->empty());
  EXPECT_TRUE(memory_->Fetch("s", 10)->empty());
}

}  // namespace
}  // namespace voxflow::orchestrator
