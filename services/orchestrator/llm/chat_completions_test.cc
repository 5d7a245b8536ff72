#include "services/orchestrator/llm/chat_completions.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace voxflow::orchestrator {
namespace {

using ::testing::HasSubstr;

SseEvent Data(std::string data) { return SseEvent{"", std::move(data)}; }

TEST(ChatCompletionsTest, RequestBodyCarriesSettingsAndBoundedHistory) {
  ChatSettings settings;
  settings.model = "llama3";
  settings.system_prompt = "Be brief.";
  settings.temperature = 0.2;
  settings.max_tokens = 64;
  settings.max_history_turns = 1;
  LlmRequest request;
  request.user_text = "and tomorrow?";
  request.history = {{.turn_id = 1, .user = "hi", .reply = "Hello!"},
                     {.turn_id = 2, .user = "weather today?", .reply = "Sunny, I think"}};
  const nlohmann::json body = nlohmann::json::parse(ChatCompletionRequestBody(settings, request));
  EXPECT_EQ(body["model"], "llama3");
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["stream_options"]["include_usage"], true);
  EXPECT_DOUBLE_EQ(body["temperature"].get<double>(), 0.2);
  EXPECT_EQ(body["max_tokens"], 64);
  const auto& messages = body["messages"];
  ASSERT_EQ(messages.size(), 4u) << "system, the last exchange only, the user";
  EXPECT_EQ(messages[0]["role"], "system");
  EXPECT_EQ(messages[1]["content"], "weather today?");
  EXPECT_EQ(messages[2]["role"], "assistant");
  EXPECT_EQ(messages[2]["content"], "Sunny, I think") << "the reply as heard";
  EXPECT_EQ(messages[3]["content"], "and tomorrow?");
  // Unset settings are not sent; invalid UTF-8 does not break the body.
  request.user_text = std::string("caf\xc3", 4);
  const nlohmann::json plain =
      nlohmann::json::parse(ChatCompletionRequestBody(ChatSettings{.model = "m"}, request));
  EXPECT_FALSE(plain.contains("temperature"));
  EXPECT_FALSE(plain.contains("max_tokens"));
}

TEST(ChatCompletionsTest, ContentFinishUsageAndDone) {
  auto delta = ParseCompletionEvent(
      Data(R"({"choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"}}]})"));
  ASSERT_TRUE(delta.ok());
  EXPECT_EQ(delta->content, "Hel");
  EXPECT_FALSE(delta->done);
  delta =
      ParseCompletionEvent(Data(R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"));
  EXPECT_EQ(delta->finish_reason, "stop");
  delta = ParseCompletionEvent(
      Data(R"({"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5}})"));
  ASSERT_TRUE(delta->usage.has_value());
  EXPECT_EQ(delta->usage->prompt_tokens, 12);
  EXPECT_EQ(delta->usage->completion_tokens, 5);
  EXPECT_TRUE(ParseCompletionEvent(Data("[DONE]"))->done);
  // A null content (tool calls, role-only chunks) is no text.
  delta = ParseCompletionEvent(Data(R"({"choices":[{"delta":{"content":null}}]})"));
  EXPECT_EQ(delta->content, "");
}

TEST(ChatCompletionsTest, MalformedDataAndStreamedErrorsAreErrors) {
  auto bad = ParseCompletionEvent(Data("{\"choices\": [tru"));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(bad.status().message(), HasSubstr("malformed JSON"));
  auto error = ParseCompletionEvent(Data(R"({"error":{"message":"model overloaded"}})"));
  EXPECT_EQ(error.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(error.status().message(), HasSubstr("model overloaded"));
}

TEST(ChatCompletionsTest, ToolCallsStreamedInPiecesAreJoinedByIndex) {
  ToolCallAssembler calls;
  for (
      const char* data :
      {R"({"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function",)"
       R"("function":{"name":"get_weather","arguments":""}}]}}]})",
       R"({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"ci"}}]}}]})",
       R"({"choices":[{"delta":{"tool_calls":[{"index":1,"function":{"name":"get_time",)"
       R"("arguments":"{}"}}]}}]})",
       R"({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ty\":1}"}}]}}]})",
       R"({"choices":[{"delta":{},"finish_reason":"tool_calls"}]})"}) {
    absl::StatusOr<CompletionDelta> delta = ParseCompletionEvent(Data(data));
    ASSERT_TRUE(delta.ok()) << delta.status();
    for (const ToolCallDelta& piece : delta->tool_calls) ASSERT_TRUE(calls.Add(piece).ok());
    if (!delta->finish_reason.empty()) {
      EXPECT_EQ(delta->finish_reason, "tool_calls");
    }
  }
  const std::vector<LlmToolCall> joined = calls.Take(/*round=*/1);
  ASSERT_EQ(joined.size(), 2u);
  EXPECT_EQ(joined[0].id, "call_a");
  EXPECT_EQ(joined[0].name, "get_weather");
  EXPECT_EQ(joined[0].arguments_json, R"({"city":1})");
  EXPECT_EQ(joined[1].id, "call_1_1") << "an id the server left out is made up";
  EXPECT_EQ(joined[1].arguments_json, "{}");
  EXPECT_TRUE(calls.empty());

  ToolCallAssembler orphan;
  EXPECT_EQ(orphan.Add(ToolCallDelta{3, "", "", "{}"}).code(), absl::StatusCode::kInternal);
}

TEST(ChatCompletionsTest, RequestBodyCarriesToolsAndEarlierRounds) {
  ChatSettings settings;
  settings.model = "m";
  LlmRequest request;
  request.user_text = "weather in Paris?";
  request.tools = {{"get_weather", "Weather by city",
                    R"({"type":"object","properties":{"city":{"type":"string"}}})"},
                   {"get_time", "Now", ""}};
  ToolRound round;
  round.calls = {{"call_1", "get_weather", R"({"city":"Paris"})"}, {"call_2", "get_time", "{}"}};
  round.answers = {{R"({"sky":"clear"})", ""}, {"", "timed out after 100 ms"}};
  const nlohmann::json body =
      nlohmann::json::parse(ChatCompletionRequestBody(settings, request, {round}));
  ASSERT_EQ(body["tools"].size(), 2u);
  EXPECT_EQ(body["tools"][0]["type"], "function");
  EXPECT_EQ(body["tools"][0]["function"]["name"], "get_weather");
  EXPECT_EQ(body["tools"][0]["function"]["parameters"]["properties"]["city"]["type"], "string");
  EXPECT_EQ(body["tools"][1]["function"]["parameters"]["type"], "object");
  const auto& messages = body["messages"];
  ASSERT_EQ(messages.size(), 4u) << "user, assistant's calls, two tool answers";
  EXPECT_EQ(messages[1]["role"], "assistant");
  EXPECT_TRUE(messages[1]["content"].is_null());
  EXPECT_EQ(messages[1]["tool_calls"][0]["id"], "call_1");
  EXPECT_EQ(messages[1]["tool_calls"][0]["function"]["arguments"], R"({"city":"Paris"})");
  EXPECT_EQ(messages[2]["role"], "tool");
  EXPECT_EQ(messages[2]["tool_call_id"], "call_1");
  EXPECT_EQ(messages[2]["content"], R"({"sky":"clear"})");
  EXPECT_EQ(messages[3]["tool_call_id"], "call_2");
  EXPECT_EQ(nlohmann::json::parse(messages[3]["content"].get<std::string>())["error"],
            "timed out after 100 ms");
}

TEST(ChatCompletionsTest, UsageOfTheWrongTypeIsIgnoredNotThrown) {
  absl::StatusOr<CompletionDelta> delta = ParseCompletionEvent(
      Data(R"({"choices":[],"usage":{"prompt_tokens":"9","completion_tokens":3}})"));
  ASSERT_TRUE(delta.ok());
  ASSERT_TRUE(delta->usage.has_value());
  EXPECT_EQ(delta->usage->prompt_tokens, 0);
  EXPECT_EQ(delta->usage->completion_tokens, 3);
}

}  // namespace
}  // namespace voxflow::orchestrator
