// Two STT replicas on different loopback addresses behind one orchestrator target (round_robin):
// one is killed mid-conversation; the turn in progress and every later turn go to the survivor.
#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "services/common/audio_chunk.h"
#include "tests/util/converse_client.h"
#include "tests/util/fixtures.h"
#include "tests/util/server_process.h"

namespace voxflow {
namespace {

using testing::ConverseClient;
using ::testing::IsEmpty;
using testing::ServerProcess;
using testing::TimedEvent;
using Case = v1::ConverseEvent::EventCase;

v1::AudioStreamFormat Pcm16k() { return MakeStreamFormat(v1::PCM16, 16000, 1); }

// Speech for the voice activity detector: a turn starts while it is sent. (`ms` is kept for the
// callers' intent; espeak-ng decides the length.)
std::string Tone(int ms) {
  static const std::string speech = testing::SpeechPcm16k("hello there");
  return speech.substr(0, std::min(speech.size(), static_cast<size_t>(32 * std::max(ms, 600))));
}

std::unique_ptr<ServerProcess> SttReplica(const std::string& host, const std::string& says) {
  return testing::StartServer("services/stt/stt_server",
                              {"--provider=mock", "--host=" + host, "--mock_transcriptions=" + says,
                               "--mock_latency_ms=5", "--mock_interim_every_ms=100"});
}

// One turn: `ms` of audio, END_OF_INPUT, TurnCompleted.
void Turn(ConverseClient& client, int turn_id, int ms = 400) {
  ASSERT_TRUE(client.SendAudio(Tone(ms), Pcm16k()));
  ASSERT_TRUE(client.SendControl(v1::Control::END_OF_INPUT));
  ASSERT_TRUE(client.WaitForTurn(turn_id)) << "turn " << turn_id;
}

TEST(FailoverTest, NewTurnsGoToTheSurvivingReplica) {
  auto replica_a = SttReplica("127.0.0.2", "from a");
  auto replica_b = SttReplica("127.0.0.3", "from b");
  auto tts =
      testing::StartServer("services/tts/tts_server", {"--provider=mock", "--mock_latency_ms=0"});
  ASSERT_TRUE(replica_a && replica_b && tts);
  // One target, both addresses: the orchestrator balances round_robin over them.
  const std::string stt_target =
      absl::StrCat("ipv4:127.0.0.2:", replica_a->port(), ",127.0.0.3:", replica_b->port());
  auto orchestrator = testing::StartServer(
      "services/orchestrator/orchestrator_server",
      {"--stt_target=" + stt_target, absl::StrCat("--tts_target=", tts->address())});
  ASSERT_NE(orchestrator, nullptr);
  auto channel = grpc::CreateChannel(orchestrator->address(), grpc::InsecureChannelCredentials());

  v1::SessionConfig config;  // The default voice_chat pipeline: stt retries UNAVAILABLE.
  *config.mutable_input_format() = Pcm16k();
  *config.mutable_output_format() = Pcm16k();
  config.set_interim_results(true);
  ConverseClient client(channel, config);

  Turn(client, 1);
  Turn(client, 2);
  EXPECT_EQ(client.turn(1)->degradations_size() + client.turn(2)->degradations_size(), 0);

  // Turn 3: the replica serving it (its interim transcript says which) dies while the user is
  // still speaking.
  ASSERT_TRUE(client.SendAudio(Tone(300), Pcm16k()));
  std::string serving;
  ASSERT_TRUE(client.WaitFor([&serving](const std::vector<TimedEvent>& events) {
    for (const TimedEvent& e : events) {
      if (e.event.has_transcript() && e.event.transcript().turn_id() == 3 &&
          (e.event.transcript().text() == "from a" || e.event.transcript().text() == "from b")) {
        serving = e.event.transcript().text();
        return true;
      }
    }
    return false;
  }));
  ServerProcess& victim = serving == "from a" ? *replica_a : *replica_b;
  const std::string survivor = serving == "from a" ? "from b" : "from a";
  victim.Signal(SIGKILL);
  ASSERT_TRUE(victim.WaitForExit(absl::Seconds(10)).ok());
  ASSERT_TRUE(client.SendAudio(Tone(300), Pcm16k()));
  ASSERT_TRUE(client.SendControl(v1::Control::END_OF_INPUT));
  ASSERT_TRUE(client.WaitForTurn(3));
  // stt retried on the survivor with all the audio of the turn: nothing lost, nothing degraded.
  EXPECT_EQ(client.turn(3)->transcript(), survivor);
  EXPECT_THAT(client.turn(3)->degradations(), IsEmpty());
  const auto retried = client.Filter(Case::kStage, 3);
  bool saw_retry = false;
  for (const TimedEvent& e : retried) {
    saw_retry |=
        e.event.stage().stage() == "stt" && e.event.stage().status() == v1::StageEvent::RETRY;
  }
  EXPECT_TRUE(saw_retry) << "the killed stream was retried";

  for (int turn = 4; turn <= 6; ++turn) {
    Turn(client, turn);
    EXPECT_EQ(client.turn(turn)->transcript(), survivor) << "turn " << turn;
    EXPECT_THAT(client.turn(turn)->degradations(), IsEmpty()) << "turn " << turn;
    EXPECT_THAT(client.Filter(Case::kError, turn), IsEmpty()) << "turn " << turn;
  }
  client.CloseSend();
  EXPECT_TRUE(client.Finish().ok());
}

}  // namespace
}  // namespace voxflow
