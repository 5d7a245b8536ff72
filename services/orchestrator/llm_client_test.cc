#include "services/orchestrator/llm_client.h"

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
                      {"x", {}}, [&](absl::string_view t) { tokens.emplace_back(t); }, *token)
                  .ok());
  EXPECT_THAT(tokens, ElementsAre("One ", "two. ", "Three"));
  token->Cancel(absl::CancelledError("barge-in"));
  EXPECT_EQ(client.Generate(
                {"x", {}}, [](absl::string_view) {}, *token),
            absl::CancelledError("barge-in"));
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
