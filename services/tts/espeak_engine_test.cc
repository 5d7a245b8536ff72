#include "services/tts/espeak_engine.h"

#include <cmath>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/sample_format.h"
#include "services/tts/tts_session.h"

namespace voxflow::tts {
namespace {

struct Rendered {
  std::string audio;
  int chunks = 0;
};

Rendered Speak(EspeakEngine& engine, const std::string& text, float rate = 1.0f) {
  v1::SynthesisConfig config;
  config.set_language("en-US");
  config.mutable_output_format()->set_format(v1::PCM16);
  config.mutable_output_format()->set_sample_rate(16000);
  config.mutable_output_format()->set_channels(1);
  config.set_speaking_rate(rate);
  Rendered rendered;
  auto session = TtsSession::Create(&engine, config, [&](v1::SynthesizeResponse r) {
    EXPECT_EQ(r.audio().sample_rate(), 16000);
    rendered.audio += r.audio().data();
    ++rendered.chunks;
  });
  EXPECT_TRUE(session.ok()) << session.status();
  EXPECT_TRUE((*session)
                  ->PushText([&] {
                    v1::TextPiece piece;
                    piece.set_text(text);
                    return piece;
                  }())
                  .ok());
  EXPECT_TRUE((*session)->Finish().ok());
  return rendered;
}

TEST(EspeakEngineTest, ListsEnglishVoices) {
  auto engine = EspeakEngine::Create();
  ASSERT_TRUE(engine.ok()) << engine.status();
  bool english = false;
  for (const v1::Voice& voice : (*engine)->Voices()) {
    EXPECT_EQ(voice.provider(), "espeak-ng");
    for (const std::string& language : voice.languages()) english |= language == "en-us";
  }
  EXPECT_TRUE(english);
  EXPECT_TRUE((*engine)->ResolveVoice("", "en-US").ok());
}

TEST(EspeakEngineTest, SpeaksASentenceAtTheRequestedRate) {
  auto engine = *EspeakEngine::Create();
  const Rendered rendered = Speak(*engine, "Hello world, this is a test of the speech service.");
  const double seconds = rendered.audio.size() / 2 / 16000.0;
  // About ten words at 175 words per minute, plus pauses.
  EXPECT_GT(seconds, 2.0);
  EXPECT_LT(seconds, 6.0);
  EXPECT_GT(RmsLevel(rendered.audio, v1::PCM16), 0.02) << "audible";
  EXPECT_GT(rendered.chunks, 10) << "streamed in 100 ms chunks";
}

TEST(EspeakEngineTest, FasterRateIsShorter) {
  auto engine = *EspeakEngine::Create();
  const size_t normal = Speak(*engine, "The quick brown fox jumps over the lazy dog.").audio.size();
  const size_t fast =
      Speak(*engine, "The quick brown fox jumps over the lazy dog.", 2.0f).audio.size();
  EXPECT_LT(fast, normal * 0.75);
}

TEST(EspeakEngineTest, SameTextSameLength) {
  // espeak-ng is not bit-exact from one render to the next (only the mocks promise that), but
  // the same text takes the same time.
  auto engine = *EspeakEngine::Create();
  const double a = static_cast<double>(Speak(*engine, "Repeatable.").audio.size());
  const double b = static_cast<double>(Speak(*engine, "Repeatable.").audio.size());
  EXPECT_NEAR(a, b, 0.05 * a);
}

}  // namespace
}  // namespace voxflow::tts
