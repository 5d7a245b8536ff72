// /metrics after a conversation: the gRPC server metrics (go-grpc-prometheus names) and the voice
// metrics hold the right values, scraped over HTTP from real server processes.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "services/common/audio_chunk.h"
#include "tests/util/converse_client.h"
#include "tests/util/fixtures.h"
#include "tests/util/metrics_scrape.h"
#include "tests/util/server_process.h"
#include "voxflow/v1/stt.grpc.pb.h"

namespace voxflow {
namespace {

using ::testing::Contains;
using testing::ConverseClient;
using ::testing::HasSubstr;
using ::testing::Key;
using testing::ServerProcess;

v1::AudioStreamFormat Pcm16k() { return MakeStreamFormat(v1::PCM16, 16000, 1); }

std::string Tone(int ms) { return testing::TonePcm16(16000, 1, ms, 220, 300); }

TEST(MetricsTest, ConversationIsCountedOnEveryServer) {
  const testing::VoiceStack stack = testing::StartVoiceStack(
      {"--provider=mock", "--mock_transcriptions=hello there", "--mock_latency_ms=5",
       "--metrics_port=0"},
      {"--provider=mock", "--mock_latency_ms=0", "--metrics_port=0"}, {"--metrics_port=0"});
  ASSERT_TRUE(stack.ok());
  const auto& stt = stack.stt;
  const auto& orchestrator = stack.orchestrator;
  ASSERT_GT(orchestrator->metrics_port(), 0) << "the 'metrics on HOST:PORT' line";
  ASSERT_GT(stt->metrics_port(), 0);

  v1::SessionConfig config;
  *config.mutable_input_format() = Pcm16k();
  *config.mutable_output_format() = Pcm16k();
  auto channel = grpc::CreateChannel(orchestrator->address(), grpc::InsecureChannelCredentials());
  int requests = 0;
  {
    ConverseClient client(channel, config);
    ++requests;
    for (int turn = 1; turn <= 2; ++turn) {
      ASSERT_TRUE(client.SendAudio(Tone(400), Pcm16k()));  // 20 chunks of 20 ms.
      ASSERT_TRUE(client.SendControl(v1::Control::END_OF_INPUT));
      requests += 21;
      ASSERT_TRUE(client.WaitForTurn(turn));
    }
    client.CloseSend();
    ASSERT_TRUE(client.Finish().ok());
    const int events = static_cast<int>(client.events().size());

    // The server counts the stream as ended in OnDone, just after the client has its status:
    // scrape until it has (bounded).
    std::map<std::string, double> m =
        testing::ParseMetrics(testing::ScrapeMetrics(orchestrator->metrics_port()));
    for (const absl::Time deadline = absl::Now() + absl::Seconds(10);
         m["voxflow_active_streams{service=\"orchestrator\"}"] != 0 && absl::Now() < deadline;) {
      absl::SleepFor(absl::Milliseconds(20));
      m = testing::ParseMetrics(testing::ScrapeMetrics(orchestrator->metrics_port()));
    }
    const std::string converse =
        "grpc_method=\"Converse\",grpc_service=\"voxflow.v1.Orchestrator\","
        "grpc_type=\"bidi_stream\"";
    EXPECT_EQ(m.at(absl::StrCat("grpc_server_started_total{", converse, "}")), 1);
    EXPECT_EQ(m.at(absl::StrCat("grpc_server_handled_total{grpc_code=\"OK\",", converse, "}")), 1);
    EXPECT_EQ(m.at(absl::StrCat("grpc_server_msg_received_total{", converse, "}")), requests);
    EXPECT_EQ(m.at(absl::StrCat("grpc_server_msg_sent_total{", converse, "}")), events);
    EXPECT_EQ(m.at(absl::StrCat("grpc_server_handling_seconds_count{", converse, "}")), 1);
    EXPECT_EQ(m.at("voxflow_active_streams{service=\"orchestrator\"}"), 0);
    EXPECT_EQ(m.at("voxflow_voice_to_voice_seconds_count"), 2);
    for (const char* stage : {"stt", "prefetch_memory", "llm", "tts", "save_memory"}) {
      EXPECT_EQ(m.at(absl::StrCat("voxflow_stage_duration_seconds_count{stage=\"", stage,
                                  "\",status=\"ok\"}")),
                2)
          << stage;
    }
    // No retries, drops or concealment in a clean run: the counters are not there at all.
    EXPECT_THAT(m, ::testing::Not(Contains(Key(HasSubstr("voxflow_backend_retries_total")))));
  }

  const std::map<std::string, double> s =
      testing::ParseMetrics(testing::ScrapeMetrics(stt->metrics_port()));
  const std::string recognize =
      "grpc_method=\"StreamingRecognize\",grpc_service=\"voxflow.v1.SpeechToText\","
      "grpc_type=\"bidi_stream\"";
  EXPECT_EQ(s.at(absl::StrCat("grpc_server_started_total{", recognize, "}")), 2) << "one per turn";
  EXPECT_EQ(s.at(absl::StrCat("grpc_server_handled_total{grpc_code=\"OK\",", recognize, "}")), 2);
  EXPECT_EQ(s.at("voxflow_active_streams{service=\"stt\"}"), 0);
}

TEST(MetricsTest, RefusedAndFailedCallsAreCountedByCode) {
  auto stt =
      testing::StartServer("services/stt/stt_server", {"--provider=mock", "--metrics_port=0"});
  ASSERT_NE(stt, nullptr);
  auto channel = grpc::CreateChannel(stt->address(), grpc::InsecureChannelCredentials());
  auto stub = v1::SpeechToText::NewStub(channel);
  grpc::ClientContext context;
  v1::RecognizeClipRequest request;  // No language, no audio: INVALID_ARGUMENT.
  v1::RecognizeClipResponse response;
  ASSERT_EQ(stub->Recognize(&context, request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  const std::map<std::string, double> s =
      testing::ParseMetrics(testing::ScrapeMetrics(stt->metrics_port()));
  EXPECT_EQ(
      s.at("grpc_server_handled_total{grpc_code=\"InvalidArgument\",grpc_method=\"Recognize\","
           "grpc_service=\"voxflow.v1.SpeechToText\",grpc_type=\"unary\"}"),
      1);
}

}  // namespace
}  // namespace voxflow
