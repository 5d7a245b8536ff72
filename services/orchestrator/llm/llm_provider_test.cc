#include "services/orchestrator/llm/llm_provider.h"

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace voxflow::orchestrator {
namespace {

using ::testing::HasSubstr;

v1::PipelineSpec Pipeline(std::map<std::string, std::string> llm_parameters) {
  v1::PipelineSpec spec;
  spec.set_name("chat");
  v1::StageSpec* llm = spec.add_stages();
  llm->set_name("llm");
  llm->set_type("llm");
  llm->mutable_parameters()->insert(llm_parameters.begin(), llm_parameters.end());
  return spec;
}

TEST(LlmProviderTest, ServerDefaultsPointThePipelineAtAModelServer) {
  std::vector<v1::PipelineSpec> specs = {Pipeline({}), Pipeline({{"provider", "rule"}})};
  ASSERT_TRUE(ApplyLlmDefaults({{"provider", "openai"},
                                {"base_url", "http://127.0.0.1:11434/v1/"},
                                {"model", "llama3"},
                                {"system_prompt", ""}},
                               specs)
                  .ok());
  const auto& chosen = specs[0].stages(0).parameters();
  EXPECT_EQ(chosen.at("provider"), "openai");
  EXPECT_EQ(chosen.at("model"), "llama3");
  EXPECT_FALSE(chosen.contains("system_prompt")) << "empty defaults are not set";
  EXPECT_EQ(specs[1].stages(0).parameters().at("provider"), "rule") << "a pipeline's own choice";
  EXPECT_FALSE(specs[1].stages(0).parameters().contains("base_url"));
  absl::StatusOr<OpenAiOptions> options =
      OpenAiOptionsFromParameters({chosen.begin(), chosen.end()});
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->base_url, "http://127.0.0.1:11434/v1") << "a trailing slash is dropped";
}

TEST(LlmProviderTest, MistakesStopTheServerNamingPipelineStageAndParameter) {
  std::vector<v1::PipelineSpec> specs = {Pipeline(
      {{"provider", "openai"}, {"base_url", "http://x/v1"}, {"model", "m"}, {"temperature", "7"}})};
  absl::Status status = ApplyLlmDefaults({}, specs);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("pipeline chat, stage llm: llm parameter temperature: '7' is not in 0..2"));
  specs = {Pipeline({{"provider", "gpt"}})};
  EXPECT_THAT(ApplyLlmDefaults({}, specs).message(), HasSubstr("'gpt' is not rule or openai"));
  specs = {Pipeline({{"provider", "openai"},
                     {"base_url", "http://x/v1"},
                     {"model", "m"},
                     {"api_key_env", "VOXFLOW_NO_SUCH_VARIABLE"}})};
  EXPECT_THAT(ApplyLlmDefaults({}, specs).message(),
              HasSubstr("api_key_env: 'VOXFLOW_NO_SUCH_VARIABLE' is not set"));
}

TEST(LlmProviderTest, ASettingOnlyOpenAiReadsChoosesIt) {
  std::string note;
  auto chosen = ChooseLlmProvider(
      {{"provider", ""}, {"base_url", "http://127.0.0.1:1/v1"}, {"model", "m"}}, &note);
  ASSERT_TRUE(chosen.ok());
  EXPECT_EQ(*chosen, "openai");
  EXPECT_THAT(note, HasSubstr("--llm_base_url is set"));
  note.clear();
  EXPECT_EQ(*ChooseLlmProvider({{"provider", ""}, {"system_prompt", "Be brief."}}, &note), "");
  EXPECT_TRUE(note.empty());
  EXPECT_EQ(*ChooseLlmProvider({{"provider", "openai"}, {"model", "m"}}, &note), "openai");
  auto contradiction = ChooseLlmProvider({{"provider", "rule"}, {"model", "m"}}, &note);
  EXPECT_EQ(contradiction.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(contradiction.status().message(), HasSubstr("--llm_model"));
  EXPECT_THAT(contradiction.status().message(), HasSubstr("--llm_provider=rule"));
}

TEST(LlmProviderTest, TheKeyFileIsReadAgainWhenItChanges) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/llm_key");
  auto write = [&](const std::string& text) { std::ofstream(path, std::ios::trunc) << text; };
  const std::map<std::string, std::string> parameters = {
      {"base_url", "http://127.0.0.1:1/v1"}, {"model", "m"}, {"api_key_file", path}};
  write("sk-first\n");
  EXPECT_EQ(OpenAiOptionsFromParameters(parameters)->api_key, "sk-first");
  EXPECT_EQ(OpenAiOptionsFromParameters(parameters)->api_key, "sk-first");
  write("sk-rotated-key\n");
  EXPECT_EQ(OpenAiOptionsFromParameters(parameters)->api_key, "sk-rotated-key");
  std::remove(path.c_str());
  const absl::Status gone = OpenAiOptionsFromParameters(parameters).status();
  EXPECT_EQ(gone.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(gone.message(), HasSubstr("llm parameter api_key_file"));
}

}  // namespace
}  // namespace voxflow::orchestrator
