#include "services/orchestrator/conversation_memory.h"

#include "gtest/gtest.h"

namespace voxflow::orchestrator {
namespace {

TEST(InProcessMemoryTest, KeepsSessionsApartAndReplacesByTurn) {
  InProcessMemory memory(/*max_exchanges_per_session=*/3);
  ASSERT_TRUE(memory.Record("a", {1, "hi", "hello", false}).ok());
  ASSERT_TRUE(memory.Record("b", {1, "other", "session", false}).ok());
  ASSERT_TRUE(memory.Record("a", {2, "how are you", "fine. and you?", false}).ok());
  // A barge-in replaces turn 2's reply with what was heard.
  ASSERT_TRUE(memory.Record("a", {2, "how are you", "fine...", true}).ok());
  auto a = memory.Fetch("a", 10);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->size(), 2u);
  EXPECT_EQ((*a)[1], (Exchange{2, "how are you", "fine...", true}));
  EXPECT_EQ(memory.Fetch("b", 10)->size(), 1u);
  EXPECT_EQ(memory.Fetch("a", 1)->front().turn_id, 2);
  for (int turn = 3; turn <= 6; ++turn) ASSERT_TRUE(memory.Record("a", {turn, "u", "r"}).ok());
  EXPECT_EQ(memory.Fetch("a", 10)->front().turn_id, 4);  // Capped at 3, oldest dropped.
  memory.Forget("a");
  EXPECT_TRUE(memory.Fetch("a", 10)->empty());
}

TEST(HistoryTextTest, RoundTrips) {
  std::vector<Exchange> history = {{1, "hello", "hi there.", false},
                                   {2, "tell me\na story", "once...", true}};
  std::vector<Exchange> parsed = ParseHistory(FormatHistory(history));
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed[0], history[0]);
  EXPECT_EQ(parsed[1], (Exchange{2, "tell me a story", "once...", true}));
}

}  // namespace
}  // namespace voxflow::orchestrator
