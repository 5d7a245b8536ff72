#include "services/orchestrator/llm_client.h"

#include <mutex>
#include <optional>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace voxflow::orchestrator {
namespace {

using ::testing::ElementsAre;

TEST(RuleLlmClientTest, RulesTemplatesAndHistory) {
  auto options = RuleLlmClient::OptionsFromParameters(
      {{"rule.weather", "It is sunny. Take a hat!"},
       {"rule.what did i say", "Before that you said: {previous}."},
       {"default", "You said: {transcript}. That was turn {turn}."}});
  ASSERT_TRUE(options.ok());
  RuleLlmClient client(*options);
  EXPECT_EQ(client.Reply({"How is the WEATHER", {}}), "It is sunny. Take a hat!");
  EXPECT_EQ(client.Reply({"hello", {}}), "You said: hello. That was turn 1.");
  EXPECT_EQ(client.Reply({"what did I say", {{1, "hello", "hi", false}}}),
            "Before that you said: hello.");
}

TEST(RuleLlmClientTest, StreamsWordTokensAndStopsOnCancel) {
  RuleLlmClient client(*RuleLlmClient::OptionsFromParameters({{"default", "One two. Three"}}));
  std::vector<std::string> tokens;
  auto token = CancellationToken::Create();
  ASSERT_TRUE(client
                  .Generate(
                      {"x", {}}, [&](absl::string_view t) { tokens.emplace_back(t); }, token)
                  .ok());
  EXPECT_THAT(tokens, ElementsAre("One ", "two. ", "Three"));
  token->Cancel(absl::CancelledError("barge-in"));
  EXPECT_EQ(client.Generate(
                {"x", {}}, [](absl::string_view) {}, token),
            absl::CancelledError("barge-in"));
}

TEST(RuleLlmClientTest, PacedTokensComeOnTimersAndACancelEndsThemAtOnce) {
  RuleLlmClient client(*RuleLlmClient::OptionsFromParameters(
      {{"default", "One two three four"}, {"token_delay_ms", "10"}}));
  std::vector<std::string> tokens;
  ASSERT_TRUE(client
                  .Generate(
                      {"x", {}}, [&](absl::string_view t) { tokens.emplace_back(t); },
                      CancellationToken::Create())
                  .ok());
  EXPECT_THAT(tokens, ElementsAre("One ", "two ", "three ", "four"));

  // Start returns at once; a cancel ends the reply within the next token, never after on_done.
  RuleLlmClient slow(*RuleLlmClient::OptionsFromParameters(
      {{"default", "One two three four"}, {"token_delay_ms", "60000"}}));
  auto cancel = CancellationToken::Create();
  std::mutex mu;
  std::vector<std::string> heard;
  std::optional<absl::Status> result;
  const absl::Time started = absl::Now();
  slow.Start(
      {"x", {}},
      [&](absl::string_view t) {
        std::lock_guard<std::mutex> lock(mu);
        EXPECT_FALSE(result.has_value()) << "a token after the end";
        heard.emplace_back(t);
      },
      [&](const absl::Status& status) {
        std::lock_guard<std::mutex> lock(mu);
        result = status;
      },
      cancel);
  EXPECT_LT(absl::Now() - started, absl::Seconds(30)) << "Start does not wait for the tokens";
  cancel->Cancel(absl::CancelledError("barge-in"));
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_TRUE(result.has_value()) << "the cancel ends it on the cancelling thread";
  EXPECT_EQ(*result, absl::CancelledError("barge-in"));
  EXPECT_THAT(heard, ::testing::SizeIs(::testing::Le(1u)));
}

TEST(RuleLlmClientTest, RejectsBadDelays) {
  EXPECT_EQ(RuleLlmClient::OptionsFromParameters({{"token_delay_ms", "soon"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SentenceSplitterTest, CutsAtSentenceEndsFollowedBySpace) {
  SentenceSplitter splitter;
  EXPECT_TRUE(splitter.Append("Pi is 3.14 ").empty());
  EXPECT_THAT(splitter.Append("roughly. Really? Yes"),
              ElementsAre("Pi is 3.14 roughly.", "Really?"));
  EXPECT_THAT(splitter.Append("! "), ElementsAre("Yes!"));
  EXPECT_EQ(splitter.Append("Tail").size(), 0u);
  EXPECT_EQ(splitter.Flush(), "Tail");
  EXPECT_EQ(splitter.Flush(), "");
}

}  // namespace
}  // namespace voxflow::orchestrator
