#include "services/orchestrator/voice_catalog.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace voxflow::orchestrator {
namespace {

using ::testing::HasSubstr;

v1::Voice MakeVoice(const std::string& name, const std::string& language) {
  v1::Voice voice;
  voice.set_name(name);
  voice.add_languages(language);
  voice.set_provider("espeak-ng");
  return voice;
}

TEST(VoiceCatalogTest, AcceptsEverythingUntilTheBackendAnswers) {
  VoiceCatalog catalog;
  EXPECT_FALSE(catalog.known());
  EXPECT_TRUE(catalog.Check("no-such-voice", "xx-XX").ok());
}

TEST(VoiceCatalogTest, ChecksVoiceAndLanguageAsTheTtsServiceSelects) {
  VoiceCatalog catalog;
  catalog.Update({MakeVoice("en-us", "en-US"), MakeVoice("de", "de")});
  EXPECT_TRUE(catalog.known());
  EXPECT_TRUE(catalog.Check("", "").ok());         // en-US by default.
  EXPECT_TRUE(catalog.Check("", "en-GB").ok());    // Same primary language.
  EXPECT_TRUE(catalog.Check("de", "en-US").ok());  // A voice by name wins.

  absl::Status voice = catalog.Check("no-such-voice", "en-US");
  EXPECT_EQ(voice.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(voice.message(), HasSubstr("config.voice"));
  EXPECT_THAT(voice.message(), HasSubstr("'no-such-voice'"));

  absl::Status language = catalog.Check("", "xx-XX");
  EXPECT_EQ(language.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(language.message(), HasSubstr("config.language"));
  EXPECT_THAT(language.message(), HasSubstr("espeak-ng"));
}

}  // namespace
}  // namespace voxflow::orchestrator
