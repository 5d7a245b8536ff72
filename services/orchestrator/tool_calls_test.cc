#include "services/orchestrator/tool_calls.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
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
  std::optional<LlmToolAnswer> answer;
  calls.Await("c1", absl::Seconds(30), CancellationToken::Create(),
              [&](LlmToolAnswer a) { answer = std::move(a); });
  EXPECT_FALSE(answer.has_value()) << "nothing before the caller answers";
  std::thread caller([&] { ASSERT_TRUE(calls.Answer("c1", {R"({"ok":true})", ""}).ok()); });
  caller.join();
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->content_json, R"({"ok":true})");
  EXPECT_EQ(calls.Answer("c1", {"{}", ""}).code(), absl::StatusCode::kNotFound) << "answered once";
}

TEST(ToolCallsTest, NoAnswerInTimeIsAnErrorAnswerAndALateOneFindsNothing) {
  ToolCalls calls;
  ASSERT_TRUE(calls.Open("c1").ok());
  std::mutex mu;
  std::condition_variable timed_out;
  std::optional<LlmToolAnswer> answer;
  calls.Await("c1", absl::Milliseconds(20), CancellationToken::Create(), [&](LlmToolAnswer a) {
    std::lock_guard<std::mutex> lock(mu);
    answer = std::move(a);
    timed_out.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(
      timed_out.wait_for(lock, std::chrono::seconds(30), [&] { return answer.has_value(); }));
  EXPECT_THAT(answer->error, HasSubstr("did not answer within 20 ms"));
  const absl::Status late = calls.Answer("c1", {"{}", ""});
  EXPECT_EQ(late.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(late.message(), HasSubstr("tool_result.id 'c1'"));
}

TEST(ToolCallsTest, ACancelEndsTheWait) {
  ToolCalls calls;
  ASSERT_TRUE(calls.Open("c1").ok());
  auto cancel = CancellationToken::Create();
  std::optional<LlmToolAnswer> answer;
  calls.Await("c1", absl::Seconds(30), cancel, [&](LlmToolAnswer a) { answer = std::move(a); });
  std::thread barge_in([&] { cancel->Cancel(absl::CancelledError("barge-in")); });
  barge_in.join();
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->error, "cancelled");
  EXPECT_EQ(calls.Answer("c1", {"{}", ""}).code(), absl::StatusCode::kNotFound);
}

TEST(ToolCallsTest, AnAnswerBeforeTheAwaitIsKeptForIt) {
  ToolCalls calls;
  ASSERT_TRUE(calls.Open("c1").ok());
  ASSERT_TRUE(calls.Answer("c1", {"[1]", ""}).ok());
  std::optional<LlmToolAnswer> answer;
  calls.Await("c1", absl::Seconds(30), CancellationToken::Create(),
              [&](LlmToolAnswer a) { answer = std::move(a); });
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->content_json, "[1]");
}

}  // namespace
}  // namespace voxflow::orchestrator
