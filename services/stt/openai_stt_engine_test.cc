// The openai STT provider and the failover chain against the in-tree fake audio server: the
// requests' shape as OpenAI documents it, streamed interims, cuts of long audio, errors by HTTP
// status, and the chain's fallback and circuit breaker.
#include "services/stt/openai_stt_engine.h"

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mocks/fake_openai_audio_server.h"
#include "mocks/mock_stt_engine.h"
#include "services/common/notification.h"
#include "services/common/wav_bytes.h"
#include "services/stt/failover_stt_engine.h"
#include "services/stt/stt_session.h"
#include "services/tts/render_speech.h"

namespace voxflow::stt {
namespace {

using mocks::FakeAudioFault;
using mocks::FakeOpenAiAudioServer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using Endpoint = FakeOpenAiAudioServer::Endpoint;

OpenAiSttOptions Options(const std::string& base_url) {
  OpenAiSttOptions options;
  options.server.base_url = base_url;
  options.server.model = "whisper-1";
  options.server.api_key = "sk-test";
  // Generous: a loaded machine (sanitizers, a parallel build) must not turn an answer into a
  // timeout. The tests of the timeout set their own.
  options.server.first_byte_timeout = absl::Seconds(5);
  options.server.retry.backoff = absl::Milliseconds(20);
  return options;
}

v1::RecognitionConfig Config(int rate = 16000) {
  v1::RecognitionConfig config;
  config.set_language("en-US");
  config.mutable_audio_format()->set_format(v1::PCM16);
  config.mutable_audio_format()->set_sample_rate(rate);
  config.mutable_audio_format()->set_channels(1);
  return config;
}

const std::string& Speech() {
  static const std::string* speech =
      new std::string(*tts::RenderSpeech("what time is it", 16000, 300));
  return *speech;
}

struct Outcome {
  absl::Status status;
  std::vector<v1::Transcript> interims;
  std::vector<v1::Transcript> finals;
};

// Streams `pcm` in 100 ms chunks, then ends the input and waits for the final.
Outcome Recognize(SttEngine* engine, const v1::RecognitionConfig& config, const std::string& pcm) {
  Outcome outcome;
  std::mutex mu;
  auto session = SttSession::Create(engine, config, [&](v1::RecognizeResponse response) {
    std::lock_guard<std::mutex> lock(mu);
    if (!response.has_transcript()) return;
    (response.transcript().is_final() ? outcome.finals : outcome.interims)
        .push_back(response.transcript());
  });
  if (!session.ok()) {
    outcome.status = session.status();
    return outcome;
  }
  const size_t piece = static_cast<size_t>(config.audio_format().sample_rate()) / 10 * 2;
  v1::AudioChunk chunk;
  chunk.set_format(v1::PCM16);
  chunk.set_sample_rate(config.audio_format().sample_rate());
  chunk.set_channels(1);
  for (size_t at = 0; at < pcm.size(); at += piece) {
    chunk.set_data(pcm.substr(at, piece));
    if (absl::Status s = (*session)->PushAudio(chunk); !s.ok()) {
      outcome.status = s;
      return outcome;
    }
  }
  outcome.status = (*session)->FinishAndWait();
  return outcome;
}

TEST(OpenAiSttEngineTest, RequestIsTheMultipartFormOpenAiDocuments) {
  FakeOpenAiAudioServer server;
  server.ScriptTranscripts({"what time is it"});
  OpenAiSttEngine engine(Options(server.base_url()));
  v1::RecognitionConfig config = Config(8000);  // Resampled to 16 kHz for the upload.
  config.add_phrase_hints("Voxflow");
  config.add_phrase_hints("time");
  config.set_word_times(true);
  const std::string narrowband = *tts::RenderSpeech("what time is it", 8000, 300);
  Outcome outcome = Recognize(&engine, config, narrowband);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  ASSERT_EQ(outcome.finals.size(), 1u);
  EXPECT_EQ(outcome.finals[0].text(), "what time is it");
  EXPECT_EQ(outcome.finals[0].provider(), "openai");
  EXPECT_EQ(outcome.finals[0].model(), "whisper-1");
  EXPECT_NEAR(outcome.finals[0].confidence(), std::exp(-0.2), 1e-4);
  ASSERT_EQ(outcome.finals[0].words_size(), 4);  // From verbose_json, in stream time.
  EXPECT_EQ(outcome.finals[0].words(3).word(), "it");
  EXPECT_GT(outcome.finals[0].words(3).end_ms(), outcome.finals[0].words(0).start_ms());

  const std::vector<FakeOpenAiAudioServer::Request> requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const FakeOpenAiAudioServer::Request& r = requests[0];
  EXPECT_EQ(r.path, "/v1/audio/transcriptions");
  EXPECT_EQ(r.authorization, "Bearer sk-test");
  EXPECT_THAT(r.content_type, HasSubstr("multipart/form-data; boundary="));
  auto field = [&](const std::string& name) {
    auto it = r.fields.find(name);
    return it == r.fields.end() ? std::string("<missing>") : it->second;
  };
  EXPECT_EQ(field("model"), "whisper-1");
  EXPECT_EQ(field("language"), "en");
  EXPECT_EQ(field("prompt"), "Voxflow, time");
  EXPECT_EQ(field("response_format"), "verbose_json");
  EXPECT_EQ(r.fields.count("timestamp_granularities[]"), 2u);
  EXPECT_EQ(r.fields.count("stream"), 0u);  // No interims asked for.
  EXPECT_EQ(r.filenames.at("file"), "utterance.wav");
  absl::StatusOr<DecodedWav> wav = DecodeWav(field("file"));
  ASSERT_TRUE(wav.ok()) << wav.status();
  EXPECT_EQ(wav->sample_rate, 16000);
  EXPECT_EQ(wav->channels, 1);
  // Every sample of the utterance, resampled: 8 kHz in, twice as many at 16 kHz.
  EXPECT_NEAR(static_cast<double>(wav->pcm.size()), 2.0 * narrowband.size(), 64);
}

TEST(OpenAiSttEngineTest, TranscribesRealSpeechThroughTheFake) {
  FakeOpenAiAudioServer server;  // Pocketsphinx behind the fake.
  OpenAiSttEngine engine(Options(server.base_url()));
  Outcome outcome = Recognize(&engine, Config(), Speech());
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  ASSERT_EQ(outcome.finals.size(), 1u);
  EXPECT_THAT(outcome.finals[0].text(), HasSubstr("time"));
}

TEST(OpenAiSttEngineTest, StreamedDeltasBecomeInterimResults) {
  FakeOpenAiAudioServer server;
  server.ScriptTranscripts({"what time is it"});
  OpenAiSttEngine engine(Options(server.base_url()));
  v1::RecognitionConfig config = Config();
  config.set_interim_results(true);
  Outcome outcome = Recognize(&engine, config, Speech());
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_EQ(server.requests()[0].fields.find("stream")->second, "true");
  std::vector<std::string> interims;
  for (const v1::Transcript& t : outcome.interims) interims.push_back(t.text());
  EXPECT_THAT(interims, ElementsAre("what", "what time", "what time is", "what time is it"));
  ASSERT_EQ(outcome.finals.size(), 1u);
  EXPECT_EQ(outcome.finals[0].text(), "what time is it");
}

TEST(OpenAiSttEngineTest, ServerWithoutStreamingGivesNoInterims) {
  mocks::FakeAudioServerOptions fake;
  fake.streams_transcripts = false;
  FakeOpenAiAudioServer server(fake);
  server.ScriptTranscripts({"what time is it"});
  OpenAiSttEngine engine(Options(server.base_url()));
  v1::RecognitionConfig config = Config();
  config.set_interim_results(true);
  Outcome outcome = Recognize(&engine, config, Speech());
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_TRUE(outcome.interims.empty());
  ASSERT_EQ(outcome.finals.size(), 1u);
  EXPECT_EQ(outcome.finals[0].text(), "what time is it");
}

TEST(OpenAiSttEngineTest, ServerWithoutVerboseJsonIsAskedForJson) {
  mocks::FakeAudioServerOptions fake;
  fake.verbose_json = false;
  FakeOpenAiAudioServer server(fake);
  server.ScriptTranscripts({"one", "two"});
  OpenAiSttEngine engine(Options(server.base_url()));
  EXPECT_EQ(Recognize(&engine, Config(), Speech()).finals.at(0).text(), "one");
  EXPECT_EQ(Recognize(&engine, Config(), Speech()).finals.at(0).text(), "two");
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);  // One refused, then json from then on.
  EXPECT_EQ(requests[0].fields.find("response_format")->second, "verbose_json");
  EXPECT_EQ(requests[1].fields.find("response_format")->second, "json");
  EXPECT_EQ(requests[2].fields.find("response_format")->second, "json");
}

TEST(OpenAiSttEngineTest, LongUtteranceIsCutIntoRequestsAtSilences) {
  FakeOpenAiAudioServer server;
  server.ScriptTranscripts({"what time is it", "and the date"});
  OpenAiSttOptions options = Options(server.base_url());
  options.max_audio_s = 2;
  OpenAiSttEngine engine(options);
  const std::string speech = *tts::RenderSpeech("what time is it", 16000, 600);
  ASSERT_LT(speech.size(), 2u * 32000);
  ASSERT_GT(speech.size(), 1u * 32000);
  const std::string audio = speech + speech;  // Over the limit: two requests.
  Outcome outcome = Recognize(&engine, Config(), audio);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  ASSERT_EQ(outcome.finals.size(), 1u);
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  // The two pieces go out together, and the fake hands its script out in the order they arrive:
  // the final follows the audio, the piece that starts the utterance first.
  absl::StatusOr<DecodedWav> first_wav = DecodeWav(requests[0].fields.find("file")->second);
  ASSERT_TRUE(first_wav.ok());
  const bool in_order = audio.compare(0, first_wav->pcm.size(), first_wav->pcm) == 0;
  const auto& start = requests[in_order ? 0 : 1];
  const auto& rest = requests[in_order ? 1 : 0];
  EXPECT_EQ(outcome.finals[0].text(), start.scripted + " " + rest.scripted);
  EXPECT_FALSE(start.scripted.empty());
  size_t uploaded = 0;
  for (const auto& r : requests) {
    absl::StatusOr<DecodedWav> wav = DecodeWav(r.fields.find("file")->second);
    ASSERT_TRUE(wav.ok());
    EXPECT_LE(wav->pcm.size(), 2u * 32000);
    uploaded += wav->pcm.size();
  }
  EXPECT_EQ(uploaded, audio.size());  // Every sample in exactly one request.
}

TEST(OpenAiSttEngineTest, ErrorsAreMappedByHttpStatusAndNameTheEndpoint) {
  FakeOpenAiAudioServer server;
  OpenAiSttEngine engine(Options(server.base_url()));
  struct Case {
    FakeAudioFault fault;
    absl::StatusCode code;
    int requests;  // With retries.
  };
  const std::vector<Case> cases = {
      {{.status = 401}, absl::StatusCode::kUnauthenticated, 1},
      {{.status = 403}, absl::StatusCode::kPermissionDenied, 1},
      {{.status = 503}, absl::StatusCode::kUnavailable, 2},
      {{.status = 429, .retry_after = "60"}, absl::StatusCode::kResourceExhausted, 1},
      {{.malformed = true}, absl::StatusCode::kInternal, 1},
      {{.cut = true}, absl::StatusCode::kUnavailable, 2},
  };
  for (const Case& c : cases) {
    const int before = server.count(Endpoint::kTranscriptions);
    server.Fail(Endpoint::kTranscriptions, c.fault);
    Outcome outcome = Recognize(&engine, Config(), Speech());
    server.Heal();
    EXPECT_EQ(outcome.status.code(), c.code) << outcome.status;
    EXPECT_THAT(outcome.status.message(), HasSubstr("/audio/transcriptions"));
    EXPECT_THAT(outcome.status.message(), Not(HasSubstr("sk-test")));
    EXPECT_EQ(server.count(Endpoint::kTranscriptions) - before, c.requests) << outcome.status;
    EXPECT_TRUE(outcome.finals.empty());
  }
}

TEST(OpenAiSttEngineTest, A429IsTriedAgainAfterItsRetryAfter) {
  FakeOpenAiAudioServer server;
  server.ScriptTranscripts({"what time is it"});
  OpenAiSttEngine engine(Options(server.base_url()));
  server.Fail(Endpoint::kTranscriptions, {.status = 429, .retry_after = "1"}, 1);
  const absl::Time start = absl::Now();
  Outcome outcome = Recognize(&engine, Config(), Speech());
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_GE(absl::Now() - start, absl::Seconds(1));
  EXPECT_EQ(outcome.finals.at(0).text(), "what time is it");
  EXPECT_EQ(server.count(Endpoint::kTranscriptions), 2);
}

TEST(OpenAiSttEngineTest, ASlowFirstByteIsATimeout) {
  FakeOpenAiAudioServer server;
  OpenAiSttOptions options = Options(server.base_url());
  options.server.first_byte_timeout = absl::Milliseconds(800);
  OpenAiSttEngine engine(options);
  server.Fail(Endpoint::kTranscriptions, {.first_byte_delay = absl::Seconds(3)});
  const absl::Time start = absl::Now();
  Outcome outcome = Recognize(&engine, Config(), Speech());
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kDeadlineExceeded) << outcome.status;
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(2500));  // Not retried past its budget.
}

TEST(OpenAiSttEngineTest, CancelAbortsTheRequestAtOnce) {
  FakeOpenAiAudioServer server;
  OpenAiSttEngine engine(Options(server.base_url()));
  server.Fail(Endpoint::kTranscriptions, {.first_byte_delay = absl::Seconds(5)});
  auto session = SttSession::Create(&engine, Config(), [](v1::RecognizeResponse) {});
  ASSERT_TRUE(session.ok());
  v1::AudioChunk chunk;
  chunk.set_format(v1::PCM16);
  chunk.set_sample_rate(16000);
  chunk.set_channels(1);
  chunk.set_data(Speech());
  ASSERT_TRUE((*session)->PushAudio(chunk).ok());
  Notification done;
  absl::Status status;
  (*session)->Finish([&](const absl::Status& s) {
    status = s;
    done.Notify();
  });
  absl::SleepFor(absl::Milliseconds(100));
  const absl::Time cancelled = absl::Now();
  (*session)->Cancel();
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(2)));
  EXPECT_LT(absl::Now() - cancelled, absl::Milliseconds(200));
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled);
}

std::unique_ptr<FailoverSttEngine> Chain(const std::string& base_url, absl::Time* now,
                                         BreakerOptions breaker = {}) {
  std::vector<std::unique_ptr<SttEngine>> engines;
  engines.push_back(std::make_unique<OpenAiSttEngine>(Options(base_url)));
  mocks::MockSttOptions mock;
  mock.transcriptions = {"the offline engine heard you"};
  mock.latency_ms = 0;
  mock.latency_jitter_ms = 0;
  engines.push_back(std::make_unique<mocks::MockSttEngine>(mock));
  return std::make_unique<FailoverSttEngine>(
      std::move(engines), breaker, [now] { return *now; }, 2);
}

TEST(FailoverSttEngineTest, TheNextProviderServesTheSameUtteranceWhenTheRemoteOneFails) {
  FakeOpenAiAudioServer server;
  absl::Time now = absl::Now();
  auto engine = Chain(server.base_url(), &now, {.failures_to_open = 100});
  const std::vector<std::pair<const char*, FakeAudioFault>> faults = {
      {"500", {.status = 500}},
      {"429 past the budget", {.status = 429, .retry_after = "30"}},
      {"timeout", {.first_byte_delay = absl::Seconds(30)}},  // Past the 5 s timeout.
      {"cut body", {.cut = true}},
      {"malformed", {.malformed = true}},
  };
  for (const auto& [name, fault] : faults) {
    server.Fail(Endpoint::kTranscriptions, fault);
    Outcome outcome = Recognize(engine.get(), Config(), Speech());
    ASSERT_TRUE(outcome.status.ok()) << name << ": " << outcome.status;
    ASSERT_EQ(outcome.finals.size(), 1u) << name;
    EXPECT_EQ(outcome.finals[0].text(), "the offline engine heard you") << name;
    EXPECT_EQ(outcome.finals[0].provider(), "mock") << name;
  }
  server.Heal();
  server.ScriptTranscripts({"what time is it"});
  Outcome healthy = Recognize(engine.get(), Config(), Speech());
  ASSERT_TRUE(healthy.status.ok());
  EXPECT_EQ(healthy.finals.at(0).provider(), "openai");
  EXPECT_EQ(healthy.finals.at(0).text(), "what time is it");
}

TEST(FailoverSttEngineTest, ARefusedConnectionFallsBack) {
  int port;
  {
    FakeOpenAiAudioServer gone;
    port = gone.port();
  }
  absl::Time now = absl::Now();
  auto engine = Chain(absl::StrCat("http://127.0.0.1:", port, "/v1"), &now);
  Outcome outcome = Recognize(engine.get(), Config(), Speech());
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_EQ(outcome.finals.at(0).provider(), "mock");
}

TEST(FailoverSttEngineTest, TheBreakerOpensAfterFailuresThenProbesAndCloses) {
  FakeOpenAiAudioServer server;
  absl::Time now = absl::Now();
  auto engine =
      Chain(server.base_url(), &now, {.failures_to_open = 2, .cooldown = absl::Seconds(30)});
  server.Fail(Endpoint::kTranscriptions, {.status = 500});
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(Recognize(engine.get(), Config(), Speech()).finals.at(0).provider(), "mock");
  }
  EXPECT_EQ(engine->chain().breaker_state(0), CircuitBreaker::State::kOpen);
  const int sent = server.count(Endpoint::kTranscriptions);
  // Open: the remote provider is skipped, not tried.
  EXPECT_EQ(Recognize(engine.get(), Config(), Speech()).finals.at(0).provider(), "mock");
  EXPECT_EQ(server.count(Endpoint::kTranscriptions), sent);
  // After the cool-down one probe goes; the server is back, so the breaker closes.
  server.Heal();
  server.ScriptTranscripts({"back again", "still here"});
  now += absl::Seconds(31);
  EXPECT_EQ(Recognize(engine.get(), Config(), Speech()).finals.at(0).text(), "back again");
  EXPECT_EQ(engine->chain().breaker_state(0), CircuitBreaker::State::kClosed);
  EXPECT_EQ(Recognize(engine.get(), Config(), Speech()).finals.at(0).text(), "still here");
}

TEST(FailoverSttEngineTest, ProviderInTheConfigIsCheckedQuotedAndCut) {
  FakeOpenAiAudioServer server;
  absl::Time now = absl::Now();
  auto engine = Chain(server.base_url(), &now);
  EXPECT_TRUE(engine->CheckProvider("").ok());
  EXPECT_TRUE(engine->CheckProvider("mock").ok());
  const absl::Status wrong = engine->CheckProvider(std::string(65536, 'x'));
  EXPECT_EQ(wrong.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong.message(), HasSubstr("config.provider '"));
  EXPECT_THAT(wrong.message(), HasSubstr("openai, mock"));
  EXPECT_LT(wrong.message().size(), 400u);
  // A config naming the offline provider goes straight to it.
  v1::RecognitionConfig config = Config();
  config.set_provider("mock");
  EXPECT_EQ(Recognize(engine.get(), config, Speech()).finals.at(0).provider(), "mock");
  EXPECT_EQ(server.count(Endpoint::kTranscriptions), 0);
}

}  // namespace
}  // namespace voxflow::stt
