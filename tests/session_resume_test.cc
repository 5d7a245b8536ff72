// Calls that survive their server: two orchestrators sharing one Redis (real processes, real
// redis-server), a caller who just talks (a real-time microphone, no end of input) and a client
// that follows moves. SIGTERM moves the call at a turn boundary; SIGKILL loses the turn in flight
// only; Redis going away costs a warning, not the call; resume tokens cannot be forged.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "services/common/audio_chunk.h"
#include "services/orchestrator/resumption/resume_tokens.h"
#include "tests/util/converse_client.h"
#include "tests/util/fixtures.h"
#include "tests/util/microphone.h"
#include "tests/util/redis_server.h"
#include "tests/util/resuming_call.h"
#include "tests/util/server_process.h"
#include "tests/util/twilio_caller.h"
#include "tools/voxctl/wav_file.h"

namespace voxflow {
namespace {

using testing::ConverseClient;
using ::testing::HasSubstr;
using testing::Microphone;
using testing::RedisServer;
using testing::ResumingCall;
using testing::ServerProcess;
using testing::SilencePcm16k;
using testing::SpeechPcm16k;
using testing::TimedEvent;
using Case = v1::ConverseEvent::EventCase;

constexpr char kKey[] = "the deployment's shared resume key";

const std::string& Question() {
  static const std::string speech = SpeechPcm16k("what is the weather like today");
  return speech;
}

std::vector<v1::TurnCompleted> Turns(const std::vector<TimedEvent>& events) {
  std::vector<v1::TurnCompleted> turns;
  for (const TimedEvent& e : events) {
    if (e.event.has_turn_completed()) turns.push_back(e.event.turn_completed());
  }
  return turns;
}

// Whether turn `turn_id`'s utterance has ended (its reply is on its way).
std::function<bool(const std::vector<TimedEvent>&)> SpeechStopped(int turn_id) {
  return [turn_id](const std::vector<TimedEvent>& events) {
    for (const TimedEvent& e : events) {
      if (e.event.has_user_speech() && e.event.user_speech().turn_id() == turn_id &&
          e.event.user_speech().type() == v1::UserSpeech::STOPPED) {
        return true;
      }
    }
    return false;
  };
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class SessionResumeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = testing::TempPath("");
    std::ofstream(dir + "/chat.textproto") << testing::RememberingPipelineSpec("chat");
    std::ofstream(dir + "/resume.key") << kKey;
    // Every utterance is answered with the number of audio bytes its stt stream carried.
    stt_ = testing::StartServer("services/stt/stt_server",
                                {"--provider=mock", "--mock_latency_ms=10",
                                 "--mock_latency_jitter_ms=0", "--mock_transcriptions={bytes}"})
               .release();
    tts_ = testing::StartServer(
               "services/tts/tts_server",
               {"--provider=mock", "--mock_latency_ms=0", "--mock_bytes_per_char=320"})
               .release();
  }
  static void TearDownTestSuite() {
    delete stt_;
    delete tts_;
  }

  void SetUp() override {
    ASSERT_NE(stt_, nullptr);
    ASSERT_NE(tts_, nullptr);
    absl::StatusOr<std::unique_ptr<RedisServer>> redis = RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
    a_ = StartOrchestrator("a");
    b_ = StartOrchestrator("b");
    ASSERT_NE(a_, nullptr);
    ASSERT_NE(b_, nullptr);
  }

  std::unique_ptr<ServerProcess> StartOrchestrator(const std::string& name) {
    const std::string dir = testing::TempPath("");
    absl::StatusOr<std::unique_ptr<ServerProcess>> process = ServerProcess::Start(
        "services/orchestrator/orchestrator_server",
        {absl::StrCat("--stt_target=", stt_->address()),
         absl::StrCat("--tts_target=", tts_->address()), "--pipelines_dir=" + dir,
         "--session_store=" + redis_->url(), "--resume_key_file=" + dir + "/resume.key",
         "--drain_timeout=60s", "--move_bound=20s"},
        absl::Seconds(60), LogPath(name));
    EXPECT_TRUE(process.ok()) << process.status();
    return process.ok() ? *std::move(process) : nullptr;
  }
  static std::string LogPath(const std::string& name) {
    return testing::TempPath("orchestrator-" + name + ".log");
  }

  static v1::SessionConfig Config() {
    v1::SessionConfig config;
    config.set_pipeline("chat");
    *config.mutable_input_format() = MakeStreamFormat(v1::PCM16, 16000, 1);
    *config.mutable_output_format() = MakeStreamFormat(v1::PCM16, 16000, 1);
    config.set_telemetry(true);
    return config;
  }

  // The caller asks a question after a short silence; true once `turns` turns have completed.
  static bool Ask(Microphone& mic, ResumingCall& call, size_t turns) {
    mic.Play(SilencePcm16k(300));
    mic.Play(Question());
    return call.WaitFor(
        [turns](const std::vector<TimedEvent>& events) { return Turns(events).size() >= turns; });
  }

  static ServerProcess* stt_;
  static ServerProcess* tts_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<ServerProcess> a_, b_;
};

ServerProcess* SessionResumeTest::stt_ = nullptr;
ServerProcess* SessionResumeTest::tts_ = nullptr;

TEST_F(SessionResumeTest, SigtermMovesTheCallToTheOtherServerLosingNothing) {
  ResumingCall call({a_->address(), b_->address()}, Config());
  Microphone mic(call);
  ASSERT_TRUE(Ask(mic, call, 1));
  ASSERT_TRUE(Ask(mic, call, 2));
  a_->Signal(SIGTERM);  // Between turns 2 and 3, the caller's microphone open.
  for (size_t n = 3; n <= 5; ++n) ASSERT_TRUE(Ask(mic, call, n)) << "question " << n;
  mic.PlayAndWait(SilencePcm16k(300));
  mic.Stop();
  const grpc::Status status = call.Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();

  // Every question answered once, numbered on, with the memory of the turns before.
  const std::vector<v1::TurnCompleted> turns = Turns(call.events());
  ASSERT_EQ(turns.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(turns[i].turn_id(), i + 1);
    EXPECT_THAT(turns[i].reply(), HasSubstr(absl::StrCat("This is turn ", i + 1, ";")));
    if (i > 0) {
      EXPECT_THAT(turns[i].reply(), HasSubstr("you said " + turns[i - 1].transcript()))
          << "turn " << i + 1 << "'s request carries the turn before it";
    }
  }
  // One move, to the other server, at a turn boundary.
  const std::vector<ResumingCall::Switch> switches = call.switches();
  ASSERT_EQ(switches.size(), 1u);
  EXPECT_TRUE(switches[0].moved);
  EXPECT_EQ(switches[0].target, 1u);
  ASSERT_NE(switches[0].started, absl::InfinitePast());
  std::printf("the caller's switch: %.1f ms from Reconnect to the new stream's SessionStarted\n",
              absl::ToDoubleMilliseconds(switches[0].started - switches[0].left));
  const std::vector<TimedEvent> started = call.Filter(Case::kSessionStarted);
  ASSERT_EQ(started.size(), 2u);
  EXPECT_EQ(started[1].event.session_started().session_id(),
            started[0].event.session_started().session_id());
  EXPECT_TRUE(started[1].event.session_started().resumed());
  EXPECT_EQ(started[1].event.session_started().last_turn_id(), 2);
  EXPECT_TRUE(call.Filter(Case::kError).empty());

  // No input sample lost or sent twice: what each stream took adds up to what the caller sent,
  // and each sample is in one utterance or in the silence outside them.
  uint64_t pushed = 0, in_utterances = 0, outside = 0, recognised = 0;
  for (const TimedEvent& e : call.Filter(Case::kTelemetry)) {
    if (e.event.telemetry().name() != "input.accounting") continue;
    std::map<std::string, std::string> a(e.event.telemetry().attributes().begin(),
                                         e.event.telemetry().attributes().end());
    uint64_t value = 0;
    ASSERT_TRUE(absl::SimpleAtoi(a["pushed_bytes"], &value));
    pushed += value;
    ASSERT_TRUE(absl::SimpleAtoi(a["utterance_bytes"], &value));
    in_utterances += value;
    ASSERT_TRUE(absl::SimpleAtoi(a["silence_dropped_bytes"], &value));
    outside += value;
    ASSERT_TRUE(absl::SimpleAtoi(a["pending_bytes"], &value));
    outside += value;  // Silence a moved stream held for a next utterance.
  }
  for (const v1::TurnCompleted& turn : turns) {
    uint64_t bytes = 0;
    ASSERT_TRUE(absl::SimpleAtoi(turn.transcript(), &bytes));
    recognised += bytes;
  }
  EXPECT_EQ(pushed, mic.bytes());
  EXPECT_EQ(in_utterances, recognised);
  EXPECT_EQ(in_utterances + outside, mic.bytes()) << "every input sample reaches one utterance";

  // The drained server ended cleanly, its call moved rather than cut.
  absl::StatusOr<int> exit = a_->WaitForExit(absl::Seconds(60));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(*exit, 0);
  EXPECT_THAT(ReadAll(LogPath("a")), HasSubstr("moves away"));
}

TEST_F(SessionResumeTest, SigkillResumesTheCallFromTheLastCompletedTurn) {
  ResumingCall call({a_->address(), b_->address()}, Config());
  Microphone mic(call);
  ASSERT_TRUE(Ask(mic, call, 1));
  mic.Play(SilencePcm16k(300));
  mic.Play(Question());
  // Turn 2 in flight: its question heard, its reply not yet played.
  ASSERT_TRUE(call.WaitFor(SpeechStopped(2)));
  a_->Signal(SIGKILL);
  ASSERT_TRUE(call.WaitFor([](const std::vector<TimedEvent>& events) {
    for (const TimedEvent& e : events) {
      if (e.event.has_session_started() && e.event.session_started().resumed()) return true;
    }
    return false;
  }));
  const std::vector<TimedEvent> started = call.Filter(Case::kSessionStarted);
  ASSERT_EQ(started.size(), 2u);
  EXPECT_EQ(started[1].event.session_started().session_id(),
            started[0].event.session_started().session_id());
  EXPECT_EQ(started[1].event.session_started().last_turn_id(), 2);
  // The lost turn is said so, right after the new stream's start.
  ASSERT_TRUE(call.WaitFor([](const std::vector<TimedEvent>& events) {
    for (const TimedEvent& e : events) {
      if (e.event.has_error()) return true;
    }
    return false;
  }));
  const std::vector<TimedEvent> errors = call.Filter(Case::kError);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].event.error().turn_id(), 2);
  EXPECT_TRUE(errors[0].event.error().recoverable());
  EXPECT_THAT(errors[0].event.error().message(), HasSubstr("turn 2 was lost"));

  // The conversation goes on from turn 1: the client sent the lost turn's audio again, and it is
  // answered as turn 3.
  ASSERT_TRUE(call.WaitFor([](const std::vector<TimedEvent>& events) {
    return Turns(events).size() >= 2;
  })) << "the lost question, sent again, was not answered";
  mic.PlayAndWait(SilencePcm16k(300));
  mic.Stop();
  ASSERT_TRUE(call.Finish().ok());
  const std::vector<v1::TurnCompleted> turns = Turns(call.events());
  ASSERT_EQ(turns.size(), 2u);
  EXPECT_EQ(turns[0].turn_id(), 1);
  EXPECT_EQ(turns[1].turn_id(), 3) << "turn ids go on after the lost one";
  // Memory: the exchange completed before, on the other server.
  EXPECT_THAT(turns[1].reply(), HasSubstr("This is turn 2;"));
  EXPECT_THAT(turns[1].reply(), HasSubstr("you said " + turns[0].transcript()));
  const std::vector<ResumingCall::Switch> switches = call.switches();
  ASSERT_EQ(switches.size(), 1u);
  EXPECT_FALSE(switches[0].moved);
}

TEST_F(SessionResumeTest, RedisGoingAwayCostsAWarningNotTheCallAndGetsTheStateBack) {
  ResumingCall call({a_->address(), b_->address()}, Config());
  Microphone mic(call);
  ASSERT_TRUE(Ask(mic, call, 1));
  redis_->Kill();
  ASSERT_TRUE(Ask(mic, call, 2)) << "the call goes on without its store";
  EXPECT_THAT(ReadAll(LogPath("a")), HasSubstr("session store failed"));
  ASSERT_TRUE(redis_->Restart().ok());  // Back, empty.
  ASSERT_TRUE(Ask(mic, call, 3));
  EXPECT_THAT(ReadAll(LogPath("a")), HasSubstr("session store is back"));

  // The state was written again: lose the server in turn 4, and the call resumes on the other
  // with three exchanges remembered.
  mic.Play(SilencePcm16k(300));
  mic.Play(Question());
  ASSERT_TRUE(call.WaitFor(SpeechStopped(4)));
  a_->Signal(SIGKILL);
  ASSERT_TRUE(call.WaitFor([](const std::vector<TimedEvent>& events) {
    return Turns(events).size() >= 4;
  })) << "question 4, sent again, is answered on the other server";
  mic.PlayAndWait(SilencePcm16k(300));
  mic.Stop();
  ASSERT_TRUE(call.Finish().ok());
  const std::vector<v1::TurnCompleted> turns = Turns(call.events());
  ASSERT_GE(turns.size(), 4u);
  EXPECT_EQ(turns[3].turn_id(), 5);
  EXPECT_THAT(turns[3].reply(), HasSubstr("This is turn 4;"));
  EXPECT_THAT(turns[3].reply(), HasSubstr("you said " + turns[2].transcript()));
}

TEST_F(SessionResumeTest, TokensCannotBeForgedExpiredOrUsedForAnotherSessionAndTakeOverALiveOne) {
  auto channel = [](const ServerProcess& server) {
    return grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
  };
  ConverseClient first(channel(*a_), Config());
  ASSERT_TRUE(first.WaitFor([](const std::vector<TimedEvent>& events) { return !events.empty(); }));
  const v1::SessionStarted started = first.events()[0].event.session_started();
  ASSERT_FALSE(started.resume_token().empty());

  auto resume = [&](const std::string& token, const std::string& session_id = "") {
    v1::SessionConfig config = Config();
    config.set_resume_token(token);
    config.set_session_id(session_id);
    ConverseClient client(channel(*b_), config);
    client.CloseSend();
    return client.Finish();
  };
  using orchestrator::ResumeTokens;
  const grpc::Status forged = resume(ResumeTokens("a key someone made up", absl::Hours(24))
                                         .Issue(started.session_id(), absl::Now()));
  EXPECT_EQ(forged.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(forged.error_message(), HasSubstr("config.resume_token"));
  const grpc::Status expired =
      resume(ResumeTokens(kKey, absl::Hours(24))
                 .Issue(started.session_id(), absl::Now() - absl::Hours(25)));
  EXPECT_EQ(expired.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(expired.error_message(), HasSubstr("config.resume_token: expired"));
  const grpc::Status other = resume(started.resume_token(), "someone-else");
  EXPECT_EQ(other.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(other.error_message(), HasSubstr("config.session_id"));
  const grpc::Status unknown =
      resume(ResumeTokens(kKey, absl::Hours(24)).Issue("s-never-was", absl::Now()));
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(unknown.error_message(), HasSubstr("has ended or expired"));
  v1::SessionConfig reused = Config();
  reused.set_session_id(started.session_id());
  const grpc::Status taken = [&] {
    ConverseClient client(channel(*b_), reused);
    client.CloseSend();
    return client.Finish();
  }();
  EXPECT_EQ(taken.error_code(), grpc::StatusCode::ALREADY_EXISTS) << "an id is no way in";

  // Reused while its session is live (on the other server): taken over, the old stream ends.
  v1::SessionConfig again = Config();
  again.set_resume_token(started.resume_token());
  ConverseClient second(channel(*b_), again);
  ASSERT_TRUE(
      second.WaitFor([](const std::vector<TimedEvent>& events) { return !events.empty(); }));
  const v1::SessionStarted resumed = second.events()[0].event.session_started();
  EXPECT_TRUE(resumed.resumed());
  EXPECT_EQ(resumed.session_id(), started.session_id());
  const grpc::Status old_stream = first.Finish();
  EXPECT_EQ(old_stream.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_THAT(old_stream.error_message(), HasSubstr("resumed on another stream"));

  // And on the same server.
  ConverseClient third(channel(*b_), again);
  ASSERT_TRUE(third.WaitFor([](const std::vector<TimedEvent>& events) { return !events.empty(); }));
  EXPECT_EQ(second.Finish().error_code(), grpc::StatusCode::ABORTED);
  third.CloseSend();
  EXPECT_TRUE(third.Finish().ok());
}

TEST_F(SessionResumeTest, VoxctlFollowsAMove) {
  // Hands free, at real time: 1.5 s of silence (the server drains meanwhile), then the question.
  const std::string wav = testing::TempPath("silence-then-question.wav");
  ASSERT_TRUE(voxctl::WriteWavFile(wav, SilencePcm16k(1500) + Question() + SilencePcm16k(300),
                                   MakeStreamFormat(v1::PCM16, 16000, 1))
                  .ok());
  absl::StatusOr<std::unique_ptr<ServerProcess>> voxctl = ServerProcess::StartCommand(
      {"tools/voxctl/voxctl", "converse", "--in", wav, "--realtime", "--hands_free",
       "--pipeline=chat",
       absl::StrCat("--target=ipv4:127.0.0.1:", a_->port(), ",127.0.0.1:", b_->port())},
      "session s-");
  ASSERT_TRUE(voxctl.ok()) << voxctl.status();
  a_->Signal(SIGTERM);
  absl::StatusOr<int> exit = (*voxctl)->WaitForExit(absl::Seconds(60));
  const std::string out = (*voxctl)->ReadOutput(absl::Seconds(5));
  ASSERT_TRUE(exit.ok()) << exit.status() << out;
  EXPECT_EQ(*exit, 0) << out;
  EXPECT_THAT(out, HasSubstr("moving to another server: the server is draining")) << out;
  EXPECT_THAT(out, HasSubstr(" resumed after turn 0: pipeline chat")) << out;
  EXPECT_THAT(out, HasSubstr("voxflow (turn 1): This is turn 1;")) << out;
  EXPECT_THAT(out, HasSubstr("turn 1 completed")) << out;
}

// An example client, started in real time on a WAV of 1.5 s of silence and the question: the
// server drains as soon as the session started; the client follows the move and is answered.
void ExpectExampleFollowsAMove(ServerProcess& draining, const std::vector<std::string>& command) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> client =
      ServerProcess::StartCommand(command, "session s-");
  ASSERT_TRUE(client.ok()) << client.status();
  draining.Signal(SIGTERM);
  absl::StatusOr<int> exit = (*client)->WaitForExit(absl::Seconds(60));
  const std::string out = (*client)->ReadOutput(absl::Seconds(5));
  ASSERT_TRUE(exit.ok()) << exit.status() << out;
  EXPECT_EQ(*exit, 0) << out;
  EXPECT_THAT(out, HasSubstr("moving to another server: the server is draining")) << out;
  EXPECT_THAT(out, HasSubstr(" resumed after turn 0: pipeline voice_chat")) << out;
  EXPECT_THAT(out, HasSubstr("voxflow (turn 1): ")) << out;
  EXPECT_THAT(out, HasSubstr("turn 1 completed")) << out;
}

std::string SilenceThenQuestionWav() {
  const std::string wav = testing::TempPath("silence-then-question.wav");
  EXPECT_TRUE(voxctl::WriteWavFile(wav, SilencePcm16k(1500) + Question() + SilencePcm16k(300),
                                   MakeStreamFormat(v1::PCM16, 16000, 1))
                  .ok());
  return wav;
}

TEST_F(SessionResumeTest, ThePythonExampleFollowsAMove) {
  ExpectExampleFollowsAMove(
      *a_, {"/usr/bin/python3", "-u", "examples/python/converse.py", "--realtime", "--in",
            SilenceThenQuestionWav(), "--proto_root", testing::RealPath("proto"), "--target",
            absl::StrCat("ipv4:127.0.0.1:", a_->port(), ",127.0.0.1:", b_->port())});
}

TEST_F(SessionResumeTest, TheNodeExampleFollowsAMove) {
  if (const std::string reason = testing::NpmUnavailable(); !reason.empty()) {
    GTEST_SKIP() << "Node client test skipped: " << reason;
  }
  ExpectExampleFollowsAMove(
      *a_, {"/usr/bin/env", "node", "examples/node/converse.js", "--realtime", "--in",
            SilenceThenQuestionWav(), "--proto_root", testing::RealPath("proto"), "--target",
            absl::StrCat("ipv4:127.0.0.1:", a_->port(), ",127.0.0.1:", b_->port())});
}

TEST_F(SessionResumeTest, APhoneCallThroughTheGatewayFollowsAMove) {
  const std::string token_file = testing::TempPath("twilio_token");
  std::ofstream(token_file) << "twilio-test-auth-token";
  std::unique_ptr<ServerProcess> gateway = testing::StartServer(
      "services/gateway/gateway_server",
      {"--http_port=0",
       absl::StrCat("--orchestrator_target=ipv4:127.0.0.1:", a_->port(), ",127.0.0.1:", b_->port()),
       "--twilio_auth_token_file=" + token_file});
  ASSERT_NE(gateway, nullptr);
  testing::TwilioCaller::Options options;
  options.twilio_auth_token = "twilio-test-auth-token";
  options.custom_parameters = {{"pipeline", "chat"}};
  absl::StatusOr<std::unique_ptr<testing::TwilioCaller>> caller =
      testing::TwilioCaller::Call(gateway->http_port(), options);
  ASSERT_TRUE(caller.ok()) << caller.status();
  using Heard = testing::TwilioCaller::Heard;
  (*caller)->Say(SilencePcm16k(300));
  (*caller)->Say(Question());
  ASSERT_TRUE((*caller)->WaitFor([](const Heard& h) { return h.media > 0; }, absl::Seconds(30)))
      << "the first question got no reply";
  // The server drains while the first reply plays: the call moves once it has played. (The
  // gateway balances its calls over both servers: the one that has it drains.)
  const bool on_a = absl::StrContains(ReadAll(LogPath("a")), "started pipeline=chat");
  ServerProcess& serving = on_a ? *a_ : *b_;
  serving.Signal(SIGTERM);
  absl::StatusOr<int> exit = serving.WaitForExit(absl::Seconds(60));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(*exit, 0);
  const int media_before = (*caller)->heard().media;
  (*caller)->Say(SilencePcm16k(300));
  (*caller)->Say(Question());
  EXPECT_TRUE(
      (*caller)->WaitFor([&](const Heard& h) { return h.media > media_before; }, absl::Seconds(30)))
      << "the second question, after the move, got no reply";
  EXPECT_TRUE((*caller)->heard().unexpected.empty());
  (*caller)->HangUp();
  EXPECT_THAT(ReadAll(LogPath(on_a ? "a" : "b")), HasSubstr("moves away"));
}

}  // namespace
}  // namespace voxflow
