// The STT service as a real process over loopback gRPC: mock and pocketsphinx engines, and an
// OpenAI-compatible server (the in-tree fake) with pocketsphinx as its fallback.
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "mocks/fake_openai_audio_server.h"
#include "mocks/mock_stt_engine.h"
#include "services/tts/render_speech.h"
#include "tests/util/metrics_scrape.h"
#include "tests/util/server_process.h"
#include "voxflow/v1/stt.grpc.pb.h"

namespace voxflow {
namespace {

using ::testing::HasSubstr;

constexpr char kServer[] = "services/stt/stt_server";

std::chrono::system_clock::time_point In(absl::Duration d) {
  return absl::ToChronoTime(absl::Now() + d);
}

v1::RecognizeRequest ConfigRequest(int rate = 16000, bool interim = true) {
  v1::RecognizeRequest request;
  v1::RecognitionConfig* config = request.mutable_config();
  config->set_language("en-US");
  config->mutable_audio_format()->set_format(v1::PCM16);
  config->mutable_audio_format()->set_sample_rate(rate);
  config->mutable_audio_format()->set_channels(1);
  config->set_interim_results(interim);
  return request;
}

v1::RecognizeRequest AudioRequest(std::string data, int rate = 16000, uint64_t seq = 0) {
  v1::RecognizeRequest request;
  v1::AudioChunk* chunk = request.mutable_audio();
  chunk->set_format(v1::PCM16);
  chunk->set_sample_rate(rate);
  chunk->set_channels(1);
  chunk->set_sequence(seq);
  chunk->set_data(std::move(data));
  return request;
}

struct StreamResult {
  std::vector<v1::RecognizeResponse> responses;
  grpc::Status status;
  std::string FinalText() const {
    std::string text;
    for (const auto& r : responses) {
      if (r.has_transcript() && r.transcript().is_final() && !r.transcript().text().empty()) {
        text += (text.empty() ? "" : " ") + r.transcript().text();
      }
    }
    return text;
  }
};

// Sends `requests`, half-closes, reads everything.
StreamResult Stream(const std::shared_ptr<grpc::Channel>& channel,
                    const std::vector<v1::RecognizeRequest>& requests,
                    absl::Duration deadline = absl::Seconds(60)) {
  grpc::ClientContext context;
  context.set_deadline(In(deadline));
  auto stream = v1::SpeechToText::NewStub(channel)->StreamingRecognize(&context);
  StreamResult result;
  std::thread reader([&] {
    v1::RecognizeResponse response;
    while (stream->Read(&response)) result.responses.push_back(response);
  });
  for (const auto& request : requests) {
    if (!stream->Write(request)) break;
  }
  stream->WritesDone();
  reader.join();
  result.status = stream->Finish();
  return result;
}

std::vector<v1::RecognizeRequest> Utterance(int ms, int rate = 16000) {
  std::vector<v1::RecognizeRequest> requests = {ConfigRequest(rate)};
  const size_t bytes = static_cast<size_t>(rate) / 50 * 2;
  for (int t = 0; t < ms; t += 20) requests.push_back(AudioRequest(std::string(bytes, 3), rate));
  return requests;
}

class MockSttServiceTest : public ::testing::Test {
 protected:
  void StartServer(std::vector<std::string> args) {
    args.insert(args.begin(), "--provider=mock");
    auto process = testing::ServerProcess::Start(kServer, args);
    ASSERT_TRUE(process.ok()) << process.status();
    process_ = *std::move(process);
    channel_ = grpc::CreateChannel(process_->address(), grpc::InsecureChannelCredentials());
  }
  std::unique_ptr<testing::ServerProcess> process_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(MockSttServiceTest, StreamsInterimsThenTheScriptedFinal) {
  StartServer({"--mock_transcriptions=hello there|how are you", "--mock_latency_ms=10"});
  StreamResult first = Stream(channel_, Utterance(600));
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  EXPECT_EQ(first.FinalText(), "hello there");
  int interims = 0, final_at = -1;
  for (size_t i = 0; i < first.responses.size(); ++i) {
    const auto& r = first.responses[i];
    if (r.has_transcript() && !r.transcript().is_final()) {
      EXPECT_LT(final_at, 0) << "interim after the final";
      ++interims;
    }
    if (r.has_transcript() && r.transcript().is_final()) final_at = static_cast<int>(i);
  }
  EXPECT_GE(interims, 1);
  EXPECT_EQ(Stream(channel_, Utterance(100)).FinalText(), "how are you");
  EXPECT_EQ(Stream(channel_, Utterance(100)).FinalText(), "hello there") << "cycled";
}

TEST_F(MockSttServiceTest, SameAudioGivesTheSameText) {
  // The clip Utterance(200) sends: ten 20 ms chunks of byte 3.
  const std::string hash = mocks::AudioHash(std::string(10 * 640, 3));
  StartServer({"--mock_latency_ms=0", "--mock_transcriptions=first|second",
               "--mock_audio_map=" + hash + "=scripted words"});
  EXPECT_EQ(Stream(channel_, Utterance(200)).FinalText(), "scripted words");
  EXPECT_EQ(Stream(channel_, Utterance(100)).FinalText(), "first");
  EXPECT_EQ(Stream(channel_, Utterance(200)).FinalText(), "scripted words");
  EXPECT_EQ(Stream(channel_, Utterance(100)).FinalText(), "second") << "a hit does not advance";
}

TEST_F(MockSttServiceTest, EveryBadInputGetsItsStatusAndTheServerGoesOn) {
  StartServer({"--mock_latency_ms=0"});
  struct Case {
    std::string name;
    std::vector<v1::RecognizeRequest> requests;
    std::string message;
  };
  v1::RecognizeRequest bad_rate = ConfigRequest();
  bad_rate.mutable_config()->mutable_audio_format()->set_sample_rate(1234567);
  v1::RecognizeRequest bad_language = ConfigRequest();
  bad_language.mutable_config()->set_language("tlh");
  v1::RecognizeRequest bad_channels = ConfigRequest();
  bad_channels.mutable_config()->mutable_audio_format()->set_channels(0);
  v1::RecognizeRequest bad_format = ConfigRequest();
  bad_format.mutable_config()->mutable_audio_format()->set_format(v1::OPUS);
  v1::RecognizeRequest bad_provider = ConfigRequest();
  bad_provider.mutable_config()->set_provider("whisper");
  const std::vector<Case> cases = {
      {"audio before config", {AudioRequest(std::string(640, 0))}, "audio before config"},
      {"second config", {ConfigRequest(), ConfigRequest()}, "config sent twice"},
      {"unsupported rate", {bad_rate}, "sample_rate 1234567 is not supported"},
      {"no channels", {bad_channels}, "channels 0 is not supported"},
      {"PCM16 audio on an Opus stream",
       {bad_format, AudioRequest(std::string(640, 0))},
       "format PCM16 differs from the stream's OPUS"},
      {"odd byte count",
       {ConfigRequest(), AudioRequest(std::string(641, 0))},
       "641 bytes is not a whole number of 2-byte frames"},
      {"empty chunk", {ConfigRequest(), AudioRequest("")}, "data is empty"},
      {"oversized chunk",
       {ConfigRequest(), AudioRequest(std::string(300 * 1024, 0))},
       "exceeds the limit"},
      {"rate differs from config",
       {ConfigRequest(), AudioRequest(std::string(640, 0), 8000)},
       "sample_rate 8000 differs from the stream's 16000"},
      {"unknown language", {bad_language}, "config.language 'tlh' is not supported"},
      {"unknown provider", {bad_provider}, "config.provider 'whisper' is not served here"},
      {"empty request", {v1::RecognizeRequest()}, "empty request"},
      {"no config at all", {}, "before a RecognitionConfig"},
  };
  for (const Case& c : cases) {
    const StreamResult result = Stream(channel_, c.requests);
    EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.name;
    EXPECT_THAT(result.status.error_message(), HasSubstr(c.message)) << c.name;
    // The next stream is served as usual.
    const StreamResult good = Stream(channel_, Utterance(100));
    ASSERT_TRUE(good.status.ok()) << c.name << ": " << good.status.error_message();
    EXPECT_EQ(good.FinalText(), "Mock transcription") << c.name;
  }
}

TEST_F(MockSttServiceTest, AHugeProviderNameIsQuotedAndCutInTheStatus) {
  StartServer({"--mock_latency_ms=0"});
  v1::RecognizeRequest huge = ConfigRequest();
  huge.mutable_config()->set_provider(std::string(64 * 1024, 'w'));
  const StreamResult result = Stream(channel_, {huge});
  // Not RESOURCE_EXHAUSTED from an oversized status the client's metadata limit refuses.
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(result.status.error_message(), HasSubstr("config.provider 'www"));
  EXPECT_THAT(result.status.error_message(), HasSubstr("this server runs mock"));
  EXPECT_LT(result.status.error_message().size(), 400u);
}

TEST_F(MockSttServiceTest, StreamsBeyondTheLimitAreResourceExhausted) {
  StartServer({"--max_streams=2", "--mock_hang"});
  // Two streams the server is busy with: each has delivered its speech-started event.
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<
      std::unique_ptr<grpc::ClientReaderWriter<v1::RecognizeRequest, v1::RecognizeResponse>>>
      streams;
  for (int i = 0; i < 2; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    contexts.back()->set_deadline(In(absl::Seconds(60)));
    streams.push_back(
        v1::SpeechToText::NewStub(channel_)->StreamingRecognize(contexts.back().get()));
    ASSERT_TRUE(streams.back()->Write(ConfigRequest()));
    ASSERT_TRUE(streams.back()->Write(AudioRequest(std::string(640, 1))));
    v1::RecognizeResponse response;
    ASSERT_TRUE(streams.back()->Read(&response));
    ASSERT_TRUE(response.has_speech_event());
  }
  const StreamResult third = Stream(channel_, Utterance(40));
  EXPECT_EQ(third.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(third.status.error_message(), HasSubstr("limit 2"));
  for (auto& context : contexts) context->TryCancel();
  for (auto& stream : streams) {
    v1::RecognizeResponse response;
    while (stream->Read(&response)) {
    }
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
}

TEST_F(MockSttServiceTest, CancelAndDeadlineStopEngineWorkPromptly) {
  // One worker: if a cancelled stream kept it, the next stream could never be served.
  StartServer({"--workers=1", "--mock_hang"});
  {
    grpc::ClientContext context;
    auto stream = v1::SpeechToText::NewStub(channel_)->StreamingRecognize(&context);
    ASSERT_TRUE(stream->Write(ConfigRequest()));
    ASSERT_TRUE(stream->Write(AudioRequest(std::string(640, 1))));
    v1::RecognizeResponse response;
    ASSERT_TRUE(stream->Read(&response));  // Speech started: the engine has the stream.
    stream->WritesDone();                  // Finish() now hangs in the engine...
    context.TryCancel();                   // ...until the client cancels.
    while (stream->Read(&response)) {
    }
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  const StreamResult expired = Stream(channel_, Utterance(40), absl::Milliseconds(500));
  EXPECT_EQ(expired.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // The single worker is free again: a stream that needs no engine wait completes. (The hanging
  // mock never answers Finish, so check with a stream that fails fast instead.)
  const StreamResult next = Stream(channel_, {AudioRequest(std::string(640, 0))});
  EXPECT_EQ(next.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(MockSttServiceTest, TwoHundredConcurrentStreamsAllComplete) {
  StartServer({"--mock_latency_ms=20", "--mock_latency_jitter_ms=5", "--workers=16"});
  constexpr int kStreams = 200;
  std::vector<StreamResult> results(kStreams);
  std::vector<std::thread> clients;
  for (int i = 0; i < kStreams; ++i) {
    clients.emplace_back([&, i] { results[i] = Stream(channel_, Utterance(200)); });
  }
  for (auto& client : clients) client.join();
  int ok = 0;
  for (const StreamResult& r : results) {
    ok += r.status.ok() && r.FinalText() == "Mock transcription";
    EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  }
  EXPECT_EQ(ok, kStreams);
}

TEST_F(MockSttServiceTest, RecognizeTranscribesAClip) {
  StartServer({"--mock_latency_ms=0", "--mock_transcriptions=clip text"});
  v1::RecognizeClipRequest request;
  *request.mutable_config() = ConfigRequest().config();
  request.set_audio(std::string(32000, 2));
  v1::RecognizeClipResponse response;
  grpc::ClientContext context;
  context.set_deadline(In(absl::Seconds(30)));
  ASSERT_TRUE(v1::SpeechToText::NewStub(channel_)->Recognize(&context, request, &response).ok());
  ASSERT_EQ(response.results_size(), 1);
  EXPECT_EQ(response.results(0).text(), "clip text");

  grpc::ClientContext bad_context;
  request.set_audio("");
  EXPECT_EQ(
      v1::SpeechToText::NewStub(channel_)->Recognize(&bad_context, request, &response).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
}

// Runs stt_server with `args` to its exit (it should not start); its exit code and stderr.
std::pair<int, std::string> RunToExit(const std::string& args) {
  const std::string log = absl::StrCat(::testing::TempDir(), "/stt_exit.log");
  const int status = std::system(absl::StrCat(kServer, " --port=0 ", args, " 2>", log).c_str());
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text};
}

TEST(SttServerFlagsTest, OpenAiSettingsWithoutTheProviderStopTheServerNamingTheFlag) {
  auto [code, log] = RunToExit("--providers=pocketsphinx --openai_base_url=http://127.0.0.1:9/v1");
  EXPECT_EQ(code, 2) << log;
  EXPECT_THAT(log, HasSubstr("--openai_base_url"));
  EXPECT_THAT(log, HasSubstr("--providers=openai,pocketsphinx"));
  std::tie(code, log) = RunToExit("--providers=openai");
  EXPECT_EQ(code, 2) << log;
  EXPECT_THAT(log, HasSubstr("--openai_base_url"));
}

// The openai provider against the in-tree fake, pocketsphinx behind it.
class OpenAiSttServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_.ScriptTranscripts({"what time is it", "what time is it", "what time is it"});
    auto process = testing::ServerProcess::Start(
        kServer, {"--providers=openai,pocketsphinx", "--openai_base_url=" + fake_.base_url(),
                  "--openai_model=whisper-test", "--openai_timeout_ms=4000",
                  "--provider_breaker_failures=100", "--metrics_port=0"});
    ASSERT_TRUE(process.ok()) << process.status();
    process_ = *std::move(process);
    channel_ = grpc::CreateChannel(process_->address(), grpc::InsecureChannelCredentials());
  }
  std::vector<v1::RecognizeRequest> Spoken(const std::string& said) {
    const std::string audio = *tts::RenderSpeech(said, 16000, 300);
    std::vector<v1::RecognizeRequest> requests = {ConfigRequest()};
    for (size_t at = 0; at < audio.size(); at += 640) {
      requests.push_back(AudioRequest(audio.substr(at, 640), 16000, at / 640));
    }
    return requests;
  }
  static const v1::Transcript* Final(const StreamResult& result) {
    for (const auto& r : result.responses) {
      if (r.has_transcript() && r.transcript().is_final()) return &r.transcript();
    }
    return nullptr;
  }

  mocks::FakeOpenAiAudioServer fake_;
  std::unique_ptr<testing::ServerProcess> process_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(OpenAiSttServiceTest, TheRemoteProviderServesAndSaysSo) {
  const StreamResult result = Stream(channel_, Spoken("the weather is nice today"));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  const v1::Transcript* final = Final(result);
  ASSERT_NE(final, nullptr);
  EXPECT_EQ(final->text(), "what time is it");  // The fake's, not what pocketsphinx hears.
  EXPECT_EQ(final->provider(), "openai");
  EXPECT_EQ(final->model(), "whisper-test");
  int interims = 0;
  for (const auto& r : result.responses) {
    interims += r.has_transcript() && !r.transcript().is_final();
  }
  EXPECT_EQ(interims, 4) << "one per streamed delta";
}

TEST_F(OpenAiSttServiceTest, WhenTheRemoteProviderFailsPocketsphinxServesTheSameUtterance) {
  const std::vector<std::pair<std::string, mocks::FakeAudioFault>> faults = {
      {"500", {.status = 500}},
      // Past the 4 s timeout, which is generous so that a loaded machine (sanitizers, a
      // parallel build) does not make a healthy answer late.
      {"timeout", {.first_byte_delay = absl::Seconds(30)}},
      {"cut", {.cut = true}},
  };
  for (const auto& [name, fault] : faults) {
    fake_.Fail(mocks::FakeOpenAiAudioServer::Endpoint::kTranscriptions, fault);
    const absl::Time start = absl::Now();
    const StreamResult result = Stream(channel_, Spoken("the weather is nice today"));
    ASSERT_TRUE(result.status.ok()) << name << ": " << result.status.error_message();
    const v1::Transcript* final = Final(result);
    ASSERT_NE(final, nullptr) << name;
    EXPECT_EQ(final->provider(), "pocketsphinx") << name;
    EXPECT_THAT(final->text(), HasSubstr("weather")) << name;
    std::cerr << name << ": pocketsphinx served after " << absl::Now() - start << "\n";
  }
  fake_.Heal();
  const StreamResult healthy = Stream(channel_, Spoken("the weather is nice today"));
  const v1::Transcript* healed = Final(healthy);
  ASSERT_NE(healed, nullptr);
  EXPECT_EQ(healed->provider(), "openai");
  // The switches, the failures by outcome and the request timings are in the metrics.
  const auto metrics = testing::ParseMetrics(testing::ScrapeMetrics(process_->metrics_port()));
  EXPECT_EQ(
      metrics.at(
          R"(voxflow_provider_switches_total{from="openai",service="stt",to="pocketsphinx"})"),
      3);
  EXPECT_EQ(
      metrics.at(
          R"(voxflow_provider_requests_total{outcome="unavailable",provider="openai",service="stt"})"),
      2);
  EXPECT_EQ(
      metrics.at(
          R"(voxflow_provider_requests_total{outcome="deadline_exceeded",provider="openai",service="stt"})"),
      1);
  EXPECT_EQ(metrics.at(
                R"(voxflow_provider_requests_total{outcome="ok",provider="openai",service="stt"})"),
            1);
  EXPECT_EQ(metrics.at(R"(voxflow_provider_breaker_state{provider="openai",service="stt"})"), 0);
  // Every failed attempt by HTTP status: the 500 and its retry; the timeout (no time for a
  // second); the cut answer and its retry.
  EXPECT_EQ(
      metrics.at(
          R"(voxflow_provider_failed_attempts_total{provider="openai",service="stt",status="500"})"),
      2);
  EXPECT_EQ(
      metrics.at(
          R"(voxflow_provider_failed_attempts_total{provider="openai",service="stt",status="deadline_exceeded"})"),
      1);
  EXPECT_EQ(
      metrics.at(
          R"(voxflow_provider_failed_attempts_total{provider="openai",service="stt",status="unavailable"})"),
      2);
  EXPECT_GE(
      metrics.at(R"(voxflow_provider_first_byte_seconds_count{provider="openai",service="stt"})"),
      1);
}

// Real engines: espeak-ng speaks, the pocketsphinx service listens.
TEST(PocketsphinxSttServiceTest, TranscribesSpokenEnglish) {
  auto process = testing::ServerProcess::Start(kServer, {"--provider=pocketsphinx"});
  ASSERT_TRUE(process.ok()) << process.status();
  auto channel = grpc::CreateChannel((*process)->address(), grpc::InsecureChannelCredentials());
  const std::string said = "the weather is nice today";
  absl::StatusOr<std::string> speech = tts::RenderSpeech(said, 16000);
  ASSERT_TRUE(speech.ok()) << speech.status();
  const std::string& audio = *speech;
  std::vector<v1::RecognizeRequest> requests = {ConfigRequest()};
  for (size_t at = 0; at < audio.size(); at += 640) {
    requests.push_back(AudioRequest(audio.substr(at, 640), 16000, at / 640));
  }
  const StreamResult result = Stream(channel, requests);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  std::vector<std::string> heard = absl::StrSplit(result.FinalText(), ' ', absl::SkipEmpty());
  int shared = 0;
  for (absl::string_view word : absl::StrSplit(said, ' ')) {
    shared += std::count(heard.begin(), heard.end(), word) > 0;
  }
  EXPECT_GE(shared, 3) << "heard: " << result.FinalText();  // Most of the five words.
  bool interim_first = false;
  for (const auto& r : result.responses) {
    if (r.has_transcript()) {
      interim_first = !r.transcript().is_final();
      break;
    }
  }
  EXPECT_TRUE(interim_first) << "interim results arrive before the final one";
}

}  // namespace
}  // namespace voxflow
