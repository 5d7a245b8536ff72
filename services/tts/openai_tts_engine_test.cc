// The openai TTS provider and the failover chain against the in-tree fake audio server: the
// request as OpenAI documents it, audio handed on as it streams, voices, errors and fallback.
#include "services/tts/openai_tts_engine.h"

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mocks/fake_openai_audio_server.h"
#include "nlohmann/json.hpp"
#include "services/common/notification.h"
#include "services/tts/espeak_engine.h"
#include "services/tts/failover_tts_engine.h"
#include "services/tts/tts_session.h"

namespace voxflow::tts {
namespace {

using mocks::FakeAudioFault;
using mocks::FakeOpenAiAudioServer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Endpoint = FakeOpenAiAudioServer::Endpoint;
using Json = nlohmann::json;

OpenAiTtsOptions Options(const std::string& base_url) {
  OpenAiTtsOptions options;
  options.server.base_url = base_url;
  options.server.model = "tts-test";
  options.server.api_key = "sk-speech";
  options.server.first_byte_timeout = absl::Milliseconds(800);
  options.server.retry.backoff = absl::Milliseconds(20);
  return options;
}

v1::SynthesisConfig Config(int rate = 16000) {
  v1::SynthesisConfig config;
  config.set_language("en-US");
  config.mutable_output_format()->set_format(v1::PCM16);
  config.mutable_output_format()->set_sample_rate(rate);
  config.mutable_output_format()->set_channels(1);
  config.set_chunk_duration_ms(20);
  return config;
}

struct Spoken {
  absl::Status status;
  std::vector<v1::SynthesizeResponse> responses;
  absl::Time first_audio = absl::InfiniteFuture();
  size_t audio_bytes = 0;
  std::vector<std::string> providers;  // Of the audio, in order, without repeats.
};

Spoken Speak(TtsEngine* engine, const v1::SynthesisConfig& config, const std::string& text) {
  Spoken spoken;
  std::mutex mu;
  auto session = TtsSession::Create(engine, config, [&](v1::SynthesizeResponse response) {
    std::lock_guard<std::mutex> lock(mu);
    if (!response.audio().data().empty()) {
      spoken.first_audio = std::min(spoken.first_audio, absl::Now());
      spoken.audio_bytes += response.audio().data().size();
      if (spoken.providers.empty() || spoken.providers.back() != response.provider()) {
        spoken.providers.push_back(response.provider());
      }
    }
    spoken.responses.push_back(std::move(response));
  });
  if (!session.ok()) {
    spoken.status = session.status();
    return spoken;
  }
  v1::TextPiece piece;
  piece.set_text(text);
  spoken.status = (*session)->PushText(piece);
  if (spoken.status.ok()) spoken.status = (*session)->Finish();
  return spoken;
}

TEST(OpenAiTtsEngineTest, RequestIsTheJsonOpenAiDocumentsAndAudioStreams) {
  mocks::FakeAudioServerOptions fake;
  fake.speech_chunk_interval = absl::Milliseconds(40);
  FakeOpenAiAudioServer server(fake);
  auto engine = OpenAiTtsEngine::Create(Options(server.base_url()));
  ASSERT_TRUE(engine.ok()) << engine.status();
  // The server's own list.
  ASSERT_EQ((*engine)->Voices().size(), 2u);
  EXPECT_EQ((*engine)->Voices()[0].name(), "alloy");
  EXPECT_EQ((*engine)->Voices()[0].provider(), "openai");
  EXPECT_EQ((*engine)->Voices()[0].native_sample_rate(), 24000);
  v1::SynthesisConfig config = Config();
  config.set_voice("nova");
  config.set_speaking_rate(1.25f);
  Spoken spoken = Speak(engine->get(), config, "Hello from the speech server.");
  ASSERT_TRUE(spoken.status.ok()) << spoken.status;
  EXPECT_THAT(spoken.providers, ElementsAre("openai"));
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& r = requests[0];
  EXPECT_EQ(r.path, "/v1/audio/speech");
  EXPECT_EQ(r.authorization, "Bearer sk-speech");
  EXPECT_THAT(r.content_type, HasSubstr("application/json"));
  const Json body = Json::parse(r.body);
  EXPECT_EQ(body["model"], "tts-test");
  EXPECT_EQ(body["input"], "Hello from the speech server.");
  EXPECT_EQ(body["voice"], "nova");
  EXPECT_EQ(body["response_format"], "pcm");
  EXPECT_NEAR(body["speed"].get<double>(), 1.25, 1e-6);
  // Resampled 24 kHz -> 16 kHz: about two thirds of the bytes the server sent.
  EXPECT_GT(spoken.audio_bytes, 16000u);  // Over half a second of speech.
  // The first audio went out long before the server had finished the sentence.
  EXPECT_LT(spoken.first_audio, r.answered - absl::Milliseconds(200))
      << "first audio " << spoken.first_audio << ", server done " << r.answered;
  EXPECT_TRUE(spoken.responses.back().is_final());
}

TEST(OpenAiTtsEngineTest, AWavAnswerIsReadToo) {
  FakeOpenAiAudioServer server;
  OpenAiTtsOptions options = Options(server.base_url());
  options.response_format = "wav";
  options.voices = {"alloy"};
  auto engine = OpenAiTtsEngine::Create(options);
  ASSERT_TRUE(engine.ok());
  Spoken spoken = Speak(engine->get(), Config(24000), "Hello there.");
  ASSERT_TRUE(spoken.status.ok()) << spoken.status;
  EXPECT_EQ(Json::parse(server.requests().back().body)["response_format"], "wav");
  // The same samples as pcm: the 44-byte header is not heard.
  Spoken pcm = Speak(OpenAiTtsEngine::Create(Options(server.base_url()))->get(), Config(24000),
                     "Hello there.");
  EXPECT_EQ(spoken.audio_bytes, pcm.audio_bytes);
}

TEST(OpenAiTtsEngineTest, ConfiguredVoicesAndOpenAisWhenTheServerHasNoList) {
  mocks::FakeAudioServerOptions fake;
  fake.lists_voices = false;
  FakeOpenAiAudioServer server(fake);
  auto listless = OpenAiTtsEngine::Create(Options(server.base_url()));
  ASSERT_TRUE(listless.ok());
  EXPECT_EQ((*listless)->Voices().size(), 10u);  // alloy ... shimmer.
  OpenAiTtsOptions options = Options(server.base_url());
  options.voices = {"af_bella", "am_adam"};
  options.languages = {"en-US", "en-GB"};
  auto configured = OpenAiTtsEngine::Create(options);
  ASSERT_TRUE(configured.ok());
  ASSERT_EQ((*configured)->Voices().size(), 2u);
  EXPECT_EQ((*configured)->Voices()[1].name(), "am_adam");
  EXPECT_THAT((*configured)->Voices()[1].languages(), ElementsAre("en-US", "en-GB"));
  EXPECT_EQ(*(*configured)->ResolveVoice("", "en-GB"), "af_bella");
}

TEST(OpenAiTtsEngineTest, ErrorsNameTheEndpoint) {
  FakeOpenAiAudioServer server;
  auto engine = OpenAiTtsEngine::Create(Options(server.base_url()));
  ASSERT_TRUE(engine.ok());
  struct Case {
    FakeAudioFault fault;
    absl::StatusCode code;
  };
  for (const Case& c : std::vector<Case>{
           {{.status = 401}, absl::StatusCode::kUnauthenticated},
           {{.status = 500}, absl::StatusCode::kUnavailable},
           {{.malformed = true}, absl::StatusCode::kInternal},
           {{.first_byte_delay = absl::Seconds(2)}, absl::StatusCode::kDeadlineExceeded}}) {
    server.Fail(Endpoint::kSpeech, c.fault);
    Spoken spoken = Speak(engine->get(), Config(), "Hello there.");
    server.Heal();
    EXPECT_EQ(spoken.status.code(), c.code) << spoken.status;
    EXPECT_THAT(spoken.status.message(), HasSubstr("/audio/speech"));
    EXPECT_THAT(spoken.status.message(), ::testing::Not(HasSubstr("sk-speech")));
  }
}

TEST(OpenAiTtsEngineTest, CancelAbortsTheRequestAtOnce) {
  mocks::FakeAudioServerOptions fake;
  fake.speech_chunk_interval = absl::Milliseconds(200);
  FakeOpenAiAudioServer server(fake);
  auto engine = OpenAiTtsEngine::Create(Options(server.base_url()));
  ASSERT_TRUE(engine.ok());
  Notification audio;
  auto session = TtsSession::Create(engine->get(), Config(), [&](v1::SynthesizeResponse r) {
    if (!r.audio().data().empty() && !audio.HasBeenNotified()) audio.Notify();
  });
  ASSERT_TRUE(session.ok());
  v1::TextPiece piece;
  piece.set_text("This sentence is long enough to take a few seconds to stream out.");
  ASSERT_TRUE((*session)->PushText(piece).ok());
  ASSERT_TRUE((*session)->Flush().ok());
  ASSERT_TRUE(audio.WaitForNotificationWithTimeout(absl::Seconds(10)));
  const absl::Time cancelled = absl::Now();
  (*session)->Cancel();
  session->reset();  // Waits for the rendering to end.
  EXPECT_LT(absl::Now() - cancelled, absl::Milliseconds(300));
}

std::unique_ptr<FailoverTtsEngine> Chain(const std::string& base_url, absl::Time* now,
                                         BreakerOptions breaker = {}) {
  std::vector<std::unique_ptr<TtsEngine>> engines;
  OpenAiTtsOptions options = Options(base_url);
  options.voices = {"alloy"};
  engines.push_back(*OpenAiTtsEngine::Create(options));
  engines.push_back(*EspeakEngine::Create());
  return std::make_unique<FailoverTtsEngine>(
      std::move(engines), breaker, [now] { return *now; }, 2);
}

TEST(FailoverTtsEngineTest, EspeakSpeaksTheSentenceWhenTheRemoteProviderFails) {
  FakeOpenAiAudioServer server;
  absl::Time now = absl::Now();
  auto engine = Chain(server.base_url(), &now, {.failures_to_open = 100});
  EXPECT_TRUE(engine->CheckProvider("espeak-ng").ok());
  EXPECT_THAT(engine->CheckProvider(std::string(70000, 'x')).message(),
              HasSubstr("this server runs openai, espeak-ng"));
  ASSERT_EQ(*engine->ResolveVoice("", "en-US"), "alloy");
  const std::vector<std::pair<const char*, FakeAudioFault>> faults = {
      {"500", {.status = 500}},
      {"429 past the budget", {.status = 429, .retry_after = "30"}},
      {"timeout", {.first_byte_delay = absl::Seconds(2)}},
      {"malformed", {.malformed = true}},
      {"cut", {.cut = true}},
  };
  for (const auto& [name, fault] : faults) {
    server.Fail(Endpoint::kSpeech, fault);
    Spoken spoken = Speak(engine.get(), Config(), "Hello there. How are you?");
    ASSERT_TRUE(spoken.status.ok()) << name << ": " << spoken.status;
    EXPECT_EQ(spoken.providers.back(), "espeak-ng") << name;
    EXPECT_GT(spoken.audio_bytes, 16000u) << name;
  }
  server.Heal();
  Spoken healthy = Speak(engine.get(), Config(), "Hello there.");
  ASSERT_TRUE(healthy.status.ok());
  EXPECT_THAT(healthy.providers, ElementsAre("openai"));
}

TEST(FailoverTtsEngineTest, TheBreakerSkipsAFailingServerThenProbesIt) {
  FakeOpenAiAudioServer server;
  absl::Time now = absl::Now();
  auto engine =
      Chain(server.base_url(), &now, {.failures_to_open = 2, .cooldown = absl::Seconds(10)});
  server.Fail(Endpoint::kSpeech, {.status = 503});
  for (int i = 0; i < 2; ++i) Speak(engine.get(), Config(), "One.");
  EXPECT_EQ(engine->chain().breaker_state(0), CircuitBreaker::State::kOpen);
  const int sent = server.count(Endpoint::kSpeech);
  EXPECT_THAT(Speak(engine.get(), Config(), "Two.").providers, ElementsAre("espeak-ng"));
  EXPECT_EQ(server.count(Endpoint::kSpeech), sent);
  server.Heal();
  now += absl::Seconds(11);
  EXPECT_THAT(Speak(engine.get(), Config(), "Three.").providers, ElementsAre("openai"));
  EXPECT_EQ(engine->chain().breaker_state(0), CircuitBreaker::State::kClosed);
}

}  // namespace
}  // namespace voxflow::tts
