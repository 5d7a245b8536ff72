#include "services/common/providers/provider_flags.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace voxflow {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::vector<std::string> kKnown = {"pocketsphinx", "openai", "mock"};

absl::StatusOr<ProviderSelection> Select(const ProviderFlags& flags) {
  return SelectProviders(flags, kKnown, "pocketsphinx", "whisper-1");
}

TEST(ProviderFlagsTest, NothingGivenRunsTheOfflineEngine) {
  auto selection = Select({});
  ASSERT_TRUE(selection.ok());
  EXPECT_THAT(selection->providers, ElementsAre("pocketsphinx"));
  EXPECT_TRUE(selection->note.empty());
}

TEST(ProviderFlagsTest, AnOpenAiSettingChoosesItWithTheOfflineFallback) {
  ProviderFlags flags;
  flags.openai_base_url = "http://127.0.0.1:8000/v1/";
  auto selection = Select(flags);
  ASSERT_TRUE(selection.ok()) << selection.status();
  EXPECT_THAT(selection->providers, ElementsAre("openai", "pocketsphinx"));
  EXPECT_THAT(selection->note, HasSubstr("--openai_base_url"));
  EXPECT_EQ(selection->openai.base_url, "http://127.0.0.1:8000/v1");
  EXPECT_EQ(selection->openai.model, "whisper-1");
}

TEST(ProviderFlagsTest, ProvidersGivenWithoutOpenAiButItsSettingsIsAnError) {
  ProviderFlags flags;
  flags.providers = "pocketsphinx";
  flags.providers_given = true;
  flags.openai_base_url = "http://127.0.0.1:8000/v1";
  flags.openai_model = "whisper-large-v3";
  auto selection = Select(flags);
  EXPECT_EQ(selection.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(selection.status().message(), HasSubstr("--providers"));
  EXPECT_THAT(selection.status().message(), HasSubstr("--openai_base_url, --openai_model"));
  EXPECT_THAT(selection.status().message(), HasSubstr("--providers=openai,pocketsphinx"));
}

TEST(ProviderFlagsTest, OpenAiWithoutItsUrlNamesTheMissingFlag) {
  ProviderFlags flags;
  flags.providers = "openai";
  flags.providers_given = true;
  auto selection = Select(flags);
  EXPECT_EQ(selection.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(selection.status().message(), HasSubstr("--openai_base_url"));
}

TEST(ProviderFlagsTest, BadValuesNameTheirFlag) {
  auto bad = [](ProviderFlags flags, const char* flag) {
    auto selection = Select(flags);
    EXPECT_EQ(selection.status().code(), absl::StatusCode::kInvalidArgument) << flag;
    EXPECT_THAT(selection.status().message(), HasSubstr(flag));
  };
  ProviderFlags unknown;
  unknown.providers = "openai,whisperx";
  bad(unknown, "--providers: 'whisperx' is not a provider here");
  ProviderFlags twice;
  twice.providers = "mock,mock";
  bad(twice, "listed twice");
  ProviderFlags url;
  url.openai_base_url = "127.0.0.1:8000";
  bad(url, "--openai_base_url");
  ProviderFlags key;
  key.openai_base_url = "http://x/v1";
  key.openai_api_key_file = "/nonexistent/key";
  bad(key, "--openai_api_key_file");
  ProviderFlags timeout;
  timeout.openai_base_url = "http://x/v1";
  timeout.openai_timeout_ms = 5;
  bad(timeout, "--openai_timeout_ms");
  ProviderFlags breaker;
  breaker.breaker_failures = 0;
  bad(breaker, "--provider_breaker_failures");
}

TEST(ProviderFlagsTest, OrderAndSettingsAreKept) {
  ProviderFlags flags;
  flags.providers = "openai, mock";
  flags.providers_given = true;
  flags.openai_base_url = "https://api.openai.com/v1";
  flags.openai_model = "gpt-4o-mini-transcribe";
  flags.openai_timeout_ms = 1200;
  flags.openai_max_retries = 0;
  flags.breaker_failures = 5;
  flags.breaker_cooldown_ms = 1000;
  auto selection = Select(flags);
  ASSERT_TRUE(selection.ok()) << selection.status();
  EXPECT_THAT(selection->providers, ElementsAre("openai", "mock"));
  EXPECT_EQ(selection->openai.model, "gpt-4o-mini-transcribe");
  EXPECT_EQ(selection->openai.first_byte_timeout, absl::Milliseconds(1200));
  EXPECT_EQ(selection->openai.retry.max_retries, 0);
  EXPECT_EQ(selection->breaker.failures_to_open, 5);
  EXPECT_EQ(selection->breaker.cooldown, absl::Seconds(1));
}

}  // namespace
}  // namespace voxflow
