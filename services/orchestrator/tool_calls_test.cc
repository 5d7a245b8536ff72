#include "services/orchestrator/tool_calls.h"

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace voxflow::orchestrator {
namespace {

using ::testing::HasSubstr;

TEST(ToolCallsTest, TheAnswerWakesTheWaiter) {
  ToolCalls calls;
  ASSERT_TRUE(calls.Open("c1").ok());
  EXPECT_EQ(calls.Open("c1").code(), absl::StatusCode::kAlreadyExists);
  std::thread caller([&] { ASSERT_TRUE(calls.Answer("c1", {R"({"ok":true})", ""}).ok()); });
  std::optional<LlmToolAnswer> answer =
      calls.Wait("c1", absl::Seconds(30), *CancellationToken::Create());
  caller.join();
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->content_json, R"({"ok":true})");
  EXPECT_EQ(calls.Answer("c1", {"{}", ""}).code(), absl::StatusCode::kNotFound) << "answered once";
}

TEST(ToolCallsTest, NoAnswerInTimeIsAnErrorAnswerAndALateOneFindsNothing) {
  ToolCalls calls;
  ASSERT_TRUE(calls.Open("c1").ok());
  std::optional<LlmToolAnswer> answer =
      calls.Wait("c1", absl::Milliseconds(20), *CancellationToken::Create());
  ASSERT_TRUE(answer.has_value());
  EXPECT_THAT(answer->error, HasSubstr("did not answer within 20 ms"));
  const absl::Status late = calls.Answer("c1", {"{}", ""});
  EXPECT_EQ(late.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(late.message(), HasSubstr("tool_result.id 'c1'"));
}

TEST(ToolCallsTest, ACancelEndsTheWait) {
  ToolCalls calls;
  ASSERT_TRUE(calls.Open("c1").ok());
  auto cancel = CancellationToken::Create();
  std::thread barge_in([&] { cancel->Cancel(absl::CancelledError("barge-in")); });
  EXPECT_EQ(calls.Wait("c1", absl::Seconds(30), *cancel), std::nullopt);
  barge_in.join();
  EXPECT_EQ(calls.Answer("c1", {"{}", ""}).code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace voxflow::orchestrator
