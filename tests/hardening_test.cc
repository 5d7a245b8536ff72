// Hostile and malformed clients against real server processes: bytes that do not parse, a client
// that never reads, one client opening every stream, unary synthesis larger than a response can
// be. Each case ends in a precise status and harms no other caller.
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "tests/util/converse_client.h"
#include "tests/util/fixtures.h"
#include "tests/util/metrics_scrape.h"
#include "tests/util/raw_call.h"
#include "tests/util/server_process.h"
#include "voxflow/v1/orchestrator.grpc.pb.h"
#include "voxflow/v1/stt.grpc.pb.h"
#include "voxflow/v1/tts.grpc.pb.h"

namespace voxflow {
namespace {

using testing::ConverseClient;
using ::testing::HasSubstr;
using testing::RawStream;
using testing::ServerProcess;
using testing::StartServer;

constexpr char kStt[] = "services/stt/stt_server";
constexpr char kTts[] = "services/tts/tts_server";
constexpr char kOrchestrator[] = "services/orchestrator/orchestrator_server";
constexpr char kStreamingRecognize[] = "/voxflow.v1.SpeechToText/StreamingRecognize";
constexpr char kRecognize[] = "/voxflow.v1.SpeechToText/Recognize";
constexpr char kSynthesize[] = "/voxflow.v1.TextToSpeech/Synthesize";
constexpr char kConverse[] = "/voxflow.v1.Orchestrator/Converse";
// Field 2 (audio), length-delimited, with a length that runs past the message: not protobuf.
const std::string kGarbage("\x12\xff\xff\xff\xff\x0f", 6);

std::shared_ptr<grpc::Channel> Channel(const ServerProcess& server) {
  return grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
}

v1::AudioStreamFormat Format(int rate, int channels) {
  v1::AudioStreamFormat format;
  format.set_format(v1::PCM16);
  format.set_sample_rate(rate);
  format.set_channels(channels);
  return format;
}

std::string SttConfig() {
  v1::RecognizeRequest request;
  request.mutable_config()->set_language("en-US");
  *request.mutable_config()->mutable_audio_format() = Format(16000, 1);
  return request.SerializeAsString();
}

std::string SttAudio(int ms) {
  v1::RecognizeRequest request;
  v1::AudioChunk* chunk = request.mutable_audio();
  chunk->set_format(v1::PCM16);
  chunk->set_sample_rate(16000);
  chunk->set_channels(1);
  chunk->set_data(testing::TonePcm16(16000, 1, ms, 440, 3000));
  return request.SerializeAsString();
}

TEST(MalformedInputTest, SttStreamRefusesBytesThatDoNotParse) {
  auto stt = StartServer(kStt, {"--provider=mock", "--mock_transcriptions=hello"});
  ASSERT_NE(stt, nullptr);
  // Before: the bytes read as the end of input, and the stream answered OK with a transcript of
  // the first part.
  testing::RawResult result = testing::RawStreamCall(
      Channel(*stt), kStreamingRecognize, {SttConfig(), SttAudio(200), kGarbage, SttAudio(200)});
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(result.status.error_message(), HasSubstr("request 3 did not parse"));
  EXPECT_THAT(result.status.error_message(), HasSubstr("voxflow.v1.RecognizeRequest"));

  // As the first message: not "stream ended before a config was sent".
  result = testing::RawStreamCall(Channel(*stt), kStreamingRecognize, {kGarbage});
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(result.status.error_message(), HasSubstr("request 1 did not parse"));

  // Unary: was UNIMPLEMENTED with an empty message.
  result = testing::RawUnaryCall(Channel(*stt), kRecognize, kGarbage);
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(result.status.error_message(),
              HasSubstr("did not parse as a voxflow.v1.RecognizeClipRequest"));

  // The server is fine afterwards: a valid stream still works.
  result = testing::RawStreamCall(Channel(*stt), kStreamingRecognize, {SttConfig(), SttAudio(200)});
  EXPECT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_FALSE(result.responses.empty());
}

TEST(MalformedInputTest, TtsAndOrchestratorRefuseBytesThatDoNotParse) {
  auto tts = StartServer(kTts, {"--provider=mock"});
  ASSERT_NE(tts, nullptr);
  testing::RawResult result = testing::RawUnaryCall(Channel(*tts), kSynthesize, kGarbage);
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(result.status.error_message(),
              HasSubstr("did not parse as a voxflow.v1.SynthesizeClipRequest"));

  auto stt = StartServer(kStt, {"--provider=mock"});
  ASSERT_NE(stt, nullptr);
  auto orchestrator = StartServer(kOrchestrator, {absl::StrCat("--stt_target=", stt->address()),
                                                  absl::StrCat("--tts_target=", tts->address())});
  ASSERT_NE(orchestrator, nullptr);
  v1::ConverseRequest config;
  config.mutable_config()->set_pipeline("voice_chat");
  *config.mutable_config()->mutable_input_format() = Format(16000, 1);
  *config.mutable_config()->mutable_output_format() = Format(16000, 1);
  result = testing::RawStreamCall(Channel(*orchestrator), kConverse,
                                  {config.SerializeAsString(), kGarbage});
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(result.status.error_message(),
              HasSubstr("request 2 did not parse as a voxflow.v1.ConverseRequest"));
}

TEST(SessionConfigTest, VoiceAndLanguageTheTtsBackendCannotSpeakAreRefusedAtOnce) {
  // Before: the session started, and every turn failed in its tts stage.
  const testing::VoiceStack stack =
      testing::StartVoiceStack({"--provider=mock"}, {"--provider=mock"});
  ASSERT_TRUE(stack.ok());
  const auto& orchestrator = stack.orchestrator;
  auto start = [&](const std::string& voice, const std::string& language) {
    v1::SessionConfig config;
    *config.mutable_input_format() = Format(16000, 1);
    *config.mutable_output_format() = Format(16000, 1);
    config.set_voice(voice);
    config.set_language(language);
    ConverseClient client(Channel(*orchestrator), config);
    client.CloseSend();
    return client.Finish();
  };
  // On a slow machine the TTS service may answer ListVoices only after the orchestrator started
  // serving (it then asks again every 5 s): wait for the catalog, with a deadline.
  grpc::Status status = start("no-such-voice", "");
  for (const absl::Time deadline = absl::Now() + absl::Seconds(30);
       status.ok() && absl::Now() < deadline; status = start("no-such-voice", "")) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("config.voice: unknown voice 'no-such-voice'"));
  status = start("", "xx-XX");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("config.language: no voice for language 'xx-XX'"));
  EXPECT_TRUE(start("", "en-US").ok());
}

TEST(SynthesizeLimitTest, RefusesTextWhoseAudioCannotBeSent) {
  auto tts = StartServer(kTts, {"--provider=espeak-ng", "--max_message_bytes=200000"});
  ASSERT_NE(tts, nullptr);
  auto stub = v1::TextToSpeech::NewStub(Channel(*tts));
  auto synthesize = [&](const std::string& text, v1::SynthesizeClipResponse* response) {
    v1::SynthesizeClipRequest request;
    *request.mutable_config()->mutable_output_format() = Format(16000, 1);
    request.set_text(text);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    return stub->Synthesize(&context, request, response);
  };

  // 99,990 characters: refused before rendering (was 25 s of espeak and a 183.5 MB response).
  v1::SynthesizeClipResponse response;
  const absl::Time start = absl::Now();
  std::string long_text;
  while (long_text.size() + 13 <= 99990) long_text += "Hello there. ";
  grpc::Status status = synthesize(long_text, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("--max_message_bytes; at least "));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10)) << "refused before rendering";

  // Short enough to pass the estimate (at most 250 characters), too long once rendered (espeak
  // speaks ~15 characters a second: ~13 s, 400 KB at 16 kHz): rendering stops at the limit.
  status = synthesize(
      "This sentence is short. This one is a little longer than that. And so is this one, which "
      "keeps going on and on for a while. Then there is another sentence here, and one more "
      "after it, so that the whole text takes a good while to say.",
      &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("stopped past "));
  EXPECT_THAT(status.error_message(), HasSubstr("StreamingSynthesize"));

  // What fits is synthesized.
  status = synthesize("Hello there.", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(response.audio().data().size(), 10000u);
  EXPECT_LE(response.audio().data().size(), 200000u);
}

// Text turns whose replies are long: 48 kHz, 8 channels makes ~24 times the mock's bytes.
constexpr char kPipeline[] = R"spec(
name: "long_replies"
stages {
  name: "llm" kind: AGENT type: "llm"
  parameters {
    key: "default"
    value: "This reply is long on purpose. It goes on for a while. It has three sentences."
  }
}
stages { name: "tts" kind: TRANSFORM type: "tts" depends_on: "llm" streams_from: "llm" }
)spec";

class ClientLimitsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = testing::TempPath("hardening_pipelines");
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/long_replies.textproto") << kPipeline;
    stt_ = StartServer(kStt, {"--provider=mock"}).release();
    tts_ = StartServer(kTts, {"--provider=mock", "--mock_bytes_per_char=256"}).release();
    orchestrator_ =
        StartServer(kOrchestrator, {absl::StrCat("--stt_target=", stt_->address()),
                                    absl::StrCat("--tts_target=", tts_->address()),
                                    absl::StrCat("--pipelines_dir=", dir), "--metrics_port=0",
                                    "--max_unread_bytes=65536", "--max_streams_per_client=2"})
            .release();
  }
  static void TearDownTestSuite() {
    delete orchestrator_;
    delete tts_;
    delete stt_;
  }

  static v1::SessionConfig Config() {
    v1::SessionConfig config;
    config.set_pipeline("long_replies");
    *config.mutable_input_format() = Format(16000, 1);
    *config.mutable_output_format() = Format(48000, 8);
    return config;
  }

  // A Converse stream that sends a config and `turns` text turns, and never reads. Its channel
  // keeps HTTP/2's initial 64 KB window (no BDP probing), so that what the orchestrator sends
  // beyond it waits on the server.
  static std::unique_ptr<RawStream> UnreadConversation(int turns) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    auto channel = grpc::CreateCustomChannel(orchestrator_->address(),
                                             grpc::InsecureChannelCredentials(), args);
    auto stream = std::make_unique<RawStream>(channel, kConverse);
    v1::ConverseRequest request;
    *request.mutable_config() = Config();
    EXPECT_TRUE(stream->Write(request.SerializeAsString()));
    for (int i = 0; i < turns; ++i) {
      request.mutable_text()->set_text(absl::StrCat("turn ", i));
      if (!stream->Write(request.SerializeAsString())) break;
    }
    return stream;
  }

  static bool WaitForSessions(int sessions) {
    return testing::WaitForMetric(orchestrator_->metrics_port(),
                                  "voxflow_active_streams{service=\"orchestrator\"}", sessions,
                                  absl::Seconds(30));
  }

  static ServerProcess* stt_;
  static ServerProcess* tts_;
  static ServerProcess* orchestrator_;
};

ServerProcess* ClientLimitsTest::stt_ = nullptr;
ServerProcess* ClientLimitsTest::tts_ = nullptr;
ServerProcess* ClientLimitsTest::orchestrator_ = nullptr;

TEST_F(ClientLimitsTest, ClientThatNeverReadsIsCutOffAndFreesItsSlot) {
  ASSERT_NE(orchestrator_, nullptr);
  // Before: the orchestrator buffered every reply for it (+45 MiB over 8 turns).
  std::unique_ptr<RawStream> never_reads = UnreadConversation(8);
  const int port = orchestrator_->metrics_port();
  EXPECT_TRUE(testing::WaitForMetric(port, "voxflow_slow_reader_total{service=\"orchestrator\"}", 1,
                                     absl::Seconds(30)));
  // The write in flight is never taken: the call is cancelled after the grace, and the slot
  // freed, with the client still holding its end.
  EXPECT_TRUE(WaitForSessions(0));

  // A client that reads late gets the reason.
  std::unique_ptr<RawStream> reads_late = UnreadConversation(8);
  EXPECT_TRUE(testing::WaitForMetric(port, "voxflow_slow_reader_total{service=\"orchestrator\"}", 2,
                                     absl::Seconds(30)));
  testing::RawResult result = reads_late->Finish();
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << result.status.error_message();
  EXPECT_THAT(result.status.error_message(), HasSubstr("client is not reading"));

  // Everyone else is served.
  ConverseClient client(Channel(*orchestrator_), Config());
  ASSERT_TRUE(client.SendText("hello"));
  EXPECT_TRUE(client.WaitForTurn(1));
  client.CloseSend();
  EXPECT_TRUE(client.Finish().ok());
  never_reads.reset();
}

TEST_F(ClientLimitsTest, OneClientCannotTakeEverySession) {
  ASSERT_NE(orchestrator_, nullptr);
  ASSERT_TRUE(WaitForSessions(0));
  ConverseClient first(Channel(*orchestrator_), Config());
  ConverseClient second(Channel(*orchestrator_), Config());
  ASSERT_TRUE(first.WaitFor(
      [](const std::vector<testing::TimedEvent>& events) { return !events.empty(); }));
  ASSERT_TRUE(second.WaitFor(
      [](const std::vector<testing::TimedEvent>& events) { return !events.empty(); }));
  ConverseClient third(Channel(*orchestrator_), Config());
  grpc::Status status = third.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("per client"));

  // When one ends, the client may open another.
  first.CloseSend();
  EXPECT_TRUE(first.Finish().ok());
  ASSERT_TRUE(WaitForSessions(1));
  ConverseClient fourth(Channel(*orchestrator_), Config());
  ASSERT_TRUE(fourth.SendText("hello"));
  EXPECT_TRUE(fourth.WaitForTurn(1));
  fourth.CloseSend();
  second.CloseSend();
  EXPECT_TRUE(fourth.Finish().ok());
  EXPECT_TRUE(second.Finish().ok());
}

}  // namespace
}  // namespace voxflow
