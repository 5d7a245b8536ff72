#include "services/orchestrator/client_tools.h"

#include <optional>
#include <vector>

#include "gtest/gtest.h"
#include "services/common/notification.h"

namespace voxflow::orchestrator {
namespace {

class ClientToolsTest : public ::testing::Test {
 protected:
  v1::ToolResult Result(const std::string& id, const std::string& json) {
    v1::ToolResult result;
    result.set_id(id);
    result.set_content_json(json);
    return result;
  }

  TimerQueue timers_;
  std::vector<v1::ConverseEvent> sent_;  // Written on the test's thread only.
  SessionEvents events_{[this](v1::ConverseEvent event) { sent_.push_back(std::move(event)); },
                        [](const absl::Status&) {}, [] { return absl::Now(); }};
  ClientTools tools_{&timers_, &events_};
  std::shared_ptr<CancellationToken> cancel_ = CancellationToken::Create();
};

TEST_F(ClientToolsTest, ACallGoesToTheClientAndItsResultToTheModel) {
  std::optional<LlmToolAnswer> answer;
  tools_.Call(3, LlmToolCall{"c1", "get_time", "{}"}, absl::Seconds(30), cancel_,
              [&](LlmToolAnswer a) { answer = std::move(a); });
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].tool_call().id(), "c1");
  EXPECT_EQ(sent_[0].tool_call().turn_id(), 3);
  EXPECT_FALSE(answer.has_value());
  ASSERT_TRUE(tools_.Answer(Result("c1", R"({"time":"noon"})")).ok());
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->content_json, R"({"time":"noon"})");
  EXPECT_TRUE(answer->error.empty());
}

TEST_F(ClientToolsTest, AMalformedResultEndsTheStreamALateOneIsARecoverableError) {
  EXPECT_EQ(tools_.Answer(Result("", "{}")).code(), absl::StatusCode::kInvalidArgument);
  absl::Status not_json = tools_.Answer(Result("c1", "{nope"));
  EXPECT_EQ(not_json.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(not_json.message().find("tool_result.content_json"), std::string::npos);
  EXPECT_TRUE(sent_.empty());

  EXPECT_TRUE(tools_.Answer(Result("never-called", "{}")).ok());
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_TRUE(sent_[0].error().recoverable());
  EXPECT_EQ(sent_[0].error().code(), static_cast<int>(absl::StatusCode::kNotFound));
}

TEST_F(ClientToolsTest, ASecondCallOfAWaitingIdIsAnsweredWithAnErrorAtOnce) {
  tools_.Call(1, LlmToolCall{"c1", "a", "{}"}, absl::Seconds(30), cancel_, [](LlmToolAnswer) {});
  std::optional<LlmToolAnswer> second;
  tools_.Call(1, LlmToolCall{"c1", "a", "{}"}, absl::Seconds(30), cancel_,
              [&](LlmToolAnswer a) { second = std::move(a); });
  ASSERT_TRUE(second.has_value());
  EXPECT_FALSE(second->error.empty());
  EXPECT_EQ(sent_.size(), 1u);  // Only the first went to the client.
}

TEST_F(ClientToolsTest, NoResultInTimeTellsTheModelSo) {
  Notification answered;
  LlmToolAnswer answer;
  tools_.Call(1, LlmToolCall{"c1", "slow", "{}"}, absl::Milliseconds(1), cancel_,
              [&](LlmToolAnswer a) {
                answer = std::move(a);
                answered.Notify();
              });
  ASSERT_TRUE(answered.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_FALSE(answer.error.empty());
}

}  // namespace
}  // namespace voxflow::orchestrator
