// The orchestrator end to end: real orchestrator, mock STT and mock TTS server processes on
// loopback, conversations over Converse.
#include <signal.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "mocks/mock_stt_engine.h"
#include "mocks/mock_tts_engine.h"
#include "tests/util/converse_client.h"
#include "tests/util/fixtures.h"
#include "tests/util/metrics_scrape.h"
#include "tests/util/server_process.h"

namespace voxflow {
namespace {

using testing::ConverseClient;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::ServerProcess;
using ::testing::SizeIs;
using testing::TimedEvent;
using Case = v1::ConverseEvent::EventCase;

constexpr char kStt[] = "services/stt/stt_server";
constexpr char kTts[] = "services/tts/tts_server";
constexpr char kOrchestrator[] = "services/orchestrator/orchestrator_server";
constexpr int kBytesPerChar = 64;

const char kWeatherReply[] = "It is sunny today. Take a hat!";
const char kStory[] =
    "Once upon a time there was a small robot. It liked to sing songs. Every day it sang a new "
    "song for its friends. The end.";

v1::AudioStreamFormat Pcm16k() {
  v1::AudioStreamFormat format;
  format.set_format(v1::PCM16);
  format.set_sample_rate(16000);
  format.set_channels(1);
  return format;
}

// A tone: distinct frequencies give distinct audio hashes (the mock STT's audio_map key).
std::string Tone(double hz, int ms, double amplitude = 0.01) {
  std::string pcm;
  const int samples = 16 * ms;
  for (int i = 0; i < samples; ++i) {
    const auto v = static_cast<int16_t>(amplitude * 32767 * std::sin(2 * M_PI * hz * i / 16000));
    pcm.push_back(static_cast<char>(v & 0xff));
    pcm.push_back(static_cast<char>((v >> 8) & 0xff));
  }
  return pcm;
}

// The mock TTS audio for a reply: one render per sentence, as the tts stage sends them.
std::string ExpectedReplyAudio(const std::vector<std::string>& sentences) {
  std::string audio;
  for (const std::string& s : sentences) {
    audio += mocks::MockTtsEngine::AudioFor(s, kBytesPerChar, Pcm16k());
  }
  return audio;
}

// Test pipelines: voice_chat's shape with scripted llm rules.
constexpr char kPipelineTemplate[] = R"spec(
name: "$NAME"
stages {
  name: "stt" kind: TRANSFORM type: "stt" failure_policy: DEGRADE timeout_ms: $STT_TIMEOUT
  retry { max_attempts: 2 initial_backoff_ms: 50 }
  fallback_output { key: "transcript" value: "" }
}
stages { name: "prefetch_memory" kind: ENRICH type: "memory_fetch" failure_policy: CONTINUE }
stages {
  name: "llm" kind: AGENT type: "llm" depends_on: "stt" depends_on: "prefetch_memory"
  parameters { key: "rule.weather" value: "It is sunny today. Take a hat!" }
  parameters { key: "rule.what did i say" value: "You said: {previous}. I said: {previous_reply}" }
  parameters { key: "rule.story" value: "$STORY" }
  parameters { key: "default" value: "You said: {transcript}." }
  parameters { key: "token_delay_ms" value: "$TOKEN_DELAY" }
}
stages { name: "tts" kind: TRANSFORM type: "tts" depends_on: "llm" streams_from: "llm" }
stages {
  name: "save_memory" kind: WORK type: "memory_write" depends_on: "llm" failure_policy: CONTINUE
}
)spec";

std::string TestPipelines(const std::string& dir) {
  auto pipeline = [](const std::string& name, int token_delay_ms, int stt_timeout_ms = 30000) {
    return absl::StrReplaceAll(kPipelineTemplate, {{"$NAME", name},
                                                   {"$STORY", kStory},
                                                   {"$TOKEN_DELAY", absl::StrCat(token_delay_ms)},
                                                   {"$STT_TIMEOUT", absl::StrCat(stt_timeout_ms)}});
  };
  std::ofstream(dir + "/test_chat.textproto") << pipeline("test_chat", 0);
  std::ofstream(dir + "/slow_chat.textproto") << pipeline("slow_chat", 40);
  std::ofstream(dir + "/impatient_chat.textproto") << pipeline("impatient_chat", 0, 300);
  return dir;
}

std::string PipelinesDir() {
  static const std::string dir = [] {
    const char* tmp = std::getenv("TEST_TMPDIR");
    return TestPipelines(tmp != nullptr ? tmp : "/tmp");
  }();
  return dir;
}

const std::string kWeatherAudio = Tone(440, 400);
const std::string kWhatDidISayAudio = Tone(550, 300);
const std::string kStoryAudio = Tone(660, 300);

std::string AudioMap(const std::vector<std::pair<std::string, std::string>>& clips) {
  std::vector<std::string> entries;
  for (const auto& [pcm, text] : clips) entries.push_back(mocks::AudioHash(pcm) + "=" + text);
  return absl::StrCat("--mock_audio_map=", absl::StrJoin(entries, "|"));
}

std::vector<std::string> SttArgs(std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--provider=mock",
                                   "--mock_latency_ms=20",
                                   "--mock_latency_jitter_ms=0",
                                   "--mock_interim_every_ms=60",
                                   "--mock_transcriptions=hmm",
                                   AudioMap({{kWeatherAudio, "what is the weather"},
                                             {kWhatDidISayAudio, "what did i say"},
                                             {kStoryAudio, "tell me a story"}})};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::vector<std::string> TtsArgs() {
  return {"--provider=mock", "--mock_latency_ms=0",
          absl::StrCat("--mock_bytes_per_char=", kBytesPerChar)};
}

std::unique_ptr<ServerProcess> StartOrchestrator(const ServerProcess& stt, const ServerProcess& tts,
                                                 std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {
      absl::StrCat("--stt_target=", stt.address()), absl::StrCat("--tts_target=", tts.address()),
      absl::StrCat("--pipelines_dir=", PipelinesDir()), "--backend_connect_timeout_ms=3000"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto process = ServerProcess::Start(kOrchestrator, args);
  EXPECT_TRUE(process.ok()) << process.status();
  return process.ok() ? *std::move(process) : nullptr;
}

v1::SessionConfig Config(const std::string& pipeline = "test_chat") {
  v1::SessionConfig config;
  config.set_pipeline(pipeline);
  *config.mutable_input_format() = Pcm16k();
  *config.mutable_output_format() = Pcm16k();
  config.set_interim_results(true);
  return config;
}

// Index of the first event matching `match`, or -1.
int IndexOf(const std::vector<TimedEvent>& events,
            const std::function<bool(const v1::ConverseEvent&)>& match) {
  for (size_t i = 0; i < events.size(); ++i) {
    if (match(events[i].event)) return static_cast<int>(i);
  }
  return -1;
}

std::function<bool(const v1::ConverseEvent&)> StageEvent(const std::string& name, int turn = 1) {
  return [name, turn](const v1::ConverseEvent& e) {
    return e.has_stage() && e.stage().name() == name && e.stage().turn_id() == turn;
  };
}

// For WaitFor: some reply audio has arrived.
bool AnyReplyAudio(const std::vector<TimedEvent>& events) {
  for (const TimedEvent& e : events) {
    if (e.event.has_reply_audio()) return true;
  }
  return false;
}

class OrchestratorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stt_ = ServerProcess::Start(kStt, SttArgs())->release();
    tts_ = ServerProcess::Start(kTts, TtsArgs())->release();
    orchestrator_ = StartOrchestrator(*stt_, *tts_).release();
  }
  static void TearDownTestSuite() {
    delete orchestrator_;
    delete stt_;
    delete tts_;
  }
  std::shared_ptr<grpc::Channel> Channel() {
    return grpc::CreateChannel(orchestrator_->address(), grpc::InsecureChannelCredentials());
  }

  // One spoken turn: audio, END_OF_INPUT, then the turn's completion.
  static void SpeakTurn(ConverseClient& client, const std::string& audio, int turn_id) {
    ASSERT_TRUE(client.SendAudio(audio, Pcm16k()));
    ASSERT_TRUE(client.SendControl(v1::Control::END_OF_INPUT));
    ASSERT_TRUE(client.WaitForTurn(turn_id)) << "turn " << turn_id << " did not complete";
  }

  static ServerProcess* stt_;
  static ServerProcess* tts_;
  static ServerProcess* orchestrator_;
};

ServerProcess* OrchestratorTest::stt_ = nullptr;
ServerProcess* OrchestratorTest::tts_ = nullptr;
ServerProcess* OrchestratorTest::orchestrator_ = nullptr;

TEST_F(OrchestratorTest, FullTurnThenASecondTurnThatRemembersTheFirst) {
  ConverseClient client(Channel(), Config());
  SpeakTurn(client, kWeatherAudio, 1);

  const std::vector<TimedEvent> events = client.events();
  ASSERT_TRUE(events.front().event.has_session_started());
  EXPECT_THAT(events.front().event.session_started().stages(),
              ElementsAre("stt", "prefetch_memory", "llm", "tts", "save_memory"));

  // Interim transcripts, then the final one.
  const int first_interim = IndexOf(events, [](const v1::ConverseEvent& e) {
    return e.has_transcript() && !e.transcript().is_final();
  });
  const int final_transcript = IndexOf(events, [](const v1::ConverseEvent& e) {
    return e.has_transcript() && e.transcript().is_final();
  });
  ASSERT_GE(first_interim, 0);
  ASSERT_GT(final_transcript, first_interim);
  EXPECT_EQ(events[final_transcript].event.transcript().text(), "what is the weather");

  // The reply text, streamed in pieces, and its audio: exactly the mock TTS audio of each
  // sentence.
  std::string reply;
  for (const TimedEvent& e : client.Filter(Case::kReplyText, 1)) {
    reply += e.event.reply_text().text();
  }
  EXPECT_EQ(reply, kWeatherReply);
  const std::string audio = client.ReplyAudio(1);
  EXPECT_TRUE(audio == ExpectedReplyAudio({"It is sunny today.", "Take a hat!"}))
      << "reply audio of " << audio.size() << " bytes differs from the mock TTS audio";
  const auto audio_events = client.Filter(Case::kReplyAudio, 1);
  EXPECT_EQ(audio_events.front().event.reply_audio().text(), "It is sunny today.");
  EXPECT_EQ(audio_events.back().event.reply_audio().text(), "Take a hat!");
  EXPECT_TRUE(audio_events.back().event.reply_audio().audio().is_final());

  const v1::TurnCompleted turn1 = *client.turn(1);
  EXPECT_EQ(turn1.transcript(), "what is the weather");
  EXPECT_EQ(turn1.reply(), kWeatherReply);
  EXPECT_FALSE(turn1.interrupted());
  EXPECT_THAT(turn1.degradations(), SizeIs(0));
  const v1::LatencyBreakdown& latency = turn1.latency();
  EXPECT_GE(latency.end_of_speech_to_final_transcript_ms(), 0);
  EXPECT_GE(latency.llm_first_token_ms(), 0);
  EXPECT_GE(latency.tts_first_byte_ms(), 0);
  EXPECT_GE(latency.voice_to_voice_ms(), 0);
  EXPECT_GE(latency.turn_total_ms(), latency.voice_to_voice_ms());
  EXPECT_EQ(latency.stage_duration_ms().size(), 5u);

  // Memory: the second turn's reply quotes the first.
  SpeakTurn(client, kWhatDidISayAudio, 2);
  EXPECT_EQ(client.turn(2)->reply(),
            absl::StrCat("You said: what is the weather. I said: ", kWeatherReply));
  client.CloseSend();
  EXPECT_TRUE(client.Finish().ok());
}

TEST_F(OrchestratorTest, PrefetchMemoryRunsWhileSttListens) {
  ConverseClient client(Channel(), Config());
  SpeakTurn(client, kWeatherAudio, 1);
  const std::vector<TimedEvent> events = client.events();
  const int stt_started = IndexOf(events, StageEvent("stage.stt.started"));
  const int fetch_started = IndexOf(events, StageEvent("stage.prefetch_memory.started"));
  const int fetch_done = IndexOf(events, StageEvent("stage.prefetch_memory.completed"));
  const int stt_done = IndexOf(events, StageEvent("stage.stt.completed"));
  const int llm_started = IndexOf(events, StageEvent("stage.llm.started"));
  ASSERT_TRUE(stt_started >= 0 && fetch_started >= 0 && fetch_done >= 0 && stt_done >= 0);
  // prefetch_memory started and finished inside stt's run; llm waited for both.
  EXPECT_LT(events[fetch_done].received, events[stt_done].received);
  EXPECT_LT(stt_started, fetch_done);
  EXPECT_GT(llm_started, stt_done);
  EXPECT_GT(llm_started, fetch_done);
}

TEST_F(OrchestratorTest, SpeechStartsBeforeTheLlmFinishesAMultiSentenceReply) {
  ConverseClient client(Channel(), Config("slow_chat"));  // 40 ms per token.
  SpeakTurn(client, kStoryAudio, 1);
  const std::vector<TimedEvent> events = client.events();
  const int first_audio =
      IndexOf(events, [](const v1::ConverseEvent& e) { return e.has_reply_audio(); });
  const int llm_done = IndexOf(events, StageEvent("stage.llm.completed"));
  const int tts_started = IndexOf(events, StageEvent("stage.tts.started"));
  ASSERT_GE(first_audio, 0);
  ASSERT_GE(llm_done, 0);
  EXPECT_LT(events[first_audio].received, events[llm_done].received);
  EXPECT_LT(tts_started, llm_done);
  EXPECT_EQ(client.turn(1)->reply(), kStory);
}

TEST_F(OrchestratorTest, InterruptStopsReplyAudioWithinOneFrameAndMemoryKeepsWhatWasHeard) {
  ConverseClient client(Channel(), Config("slow_chat"));
  ASSERT_TRUE(client.SendAudio(kStoryAudio, Pcm16k()));
  ASSERT_TRUE(client.SendControl(v1::Control::END_OF_INPUT));
  // Let some reply audio play, then barge in.
  ASSERT_TRUE(client.WaitFor([](const std::vector<TimedEvent>& events) {
    int frames = 0;
    for (const TimedEvent& e : events) frames += e.event.has_reply_audio();
    return frames >= 5;
  }));
  const size_t before = client.events().size();
  ASSERT_TRUE(client.SendControl(v1::Control::INTERRUPT));
  ASSERT_TRUE(client.WaitForTurn(1));

  const std::vector<TimedEvent> events = client.events();
  const int interrupted = IndexOf(events, [](const v1::ConverseEvent& e) {
    return e.has_telemetry() && e.telemetry().name() == "turn.interrupted";
  });
  ASSERT_GE(interrupted, static_cast<int>(before));
  int frames_after_interrupt = 0;
  for (size_t i = before; i < events.size(); ++i) {
    frames_after_interrupt += events[i].event.has_reply_audio();
  }
  // Frames already on the wire when INTERRUPT was sent may still arrive: at most one.
  EXPECT_LE(frames_after_interrupt, 1);
  const auto& attributes = events[interrupted].event.telemetry().attributes();
  EXPECT_EQ(attributes.at("reason"), "interrupt request");
  const double sent_ms = std::stod(attributes.at("reply_audio_sent_ms"));
  EXPECT_GE(sent_ms, 100);
  const v1::TurnCompleted turn = *client.turn(1);
  EXPECT_TRUE(turn.interrupted());
  EXPECT_FALSE(turn.reply().empty());
  EXPECT_LT(turn.reply().size(), std::string(kStory).size()) << turn.reply();
  EXPECT_EQ(turn.reply(), attributes.at("heard_text"));
  // The reply audio sent matches what turn.interrupted reports.
  const double received_ms = client.ReplyAudio(1).size() / 32.0;
  EXPECT_NEAR(received_ms, sent_ms, 1.0);

  // Memory holds what the user heard, not the whole story.
  SpeakTurn(client, kWhatDidISayAudio, 2);
  EXPECT_EQ(client.turn(2)->reply(),
            absl::StrCat("You said: tell me a story. I said: ", turn.reply()));
}

TEST_F(OrchestratorTest, UserSpeechOverTheReplyIsABargeIn) {
  ConverseClient client(Channel(), Config("slow_chat"));
  ASSERT_TRUE(client.SendAudio(kStoryAudio, Pcm16k()));
  ASSERT_TRUE(client.SendControl(v1::Control::END_OF_INPUT));
  ASSERT_TRUE(client.WaitFor(AnyReplyAudio));
  // The user speaks up (loud, longer than --barge_in_min_speech_ms): the reply stops, and what
  // they said becomes the next turn.
  const std::string loud = testing::SpeechPcm16k("wait wait a moment please");
  ASSERT_TRUE(client.SendAudio(loud, Pcm16k()));
  ASSERT_TRUE(client.WaitForTurn(1));
  const auto telemetry = client.Filter(Case::kTelemetry);
  const int interrupted = IndexOf(client.events(), [](const v1::ConverseEvent& e) {
    return e.has_telemetry() && e.telemetry().name() == "turn.interrupted";
  });
  ASSERT_GE(interrupted, 0);
  EXPECT_EQ(client.events()[interrupted].event.telemetry().attributes().at("reason"),
            "user speech");
  EXPECT_TRUE(client.turn(1)->interrupted());
  ASSERT_TRUE(client.SendControl(v1::Control::END_OF_INPUT));
  ASSERT_TRUE(client.WaitForTurn(2));
  EXPECT_EQ(client.turn(2)->transcript(), "hmm");  // Not in the audio map: the mock's default.
}

TEST_F(OrchestratorTest, TypedTurnSkipsStt) {
  ConverseClient client(Channel(), Config());
  ASSERT_TRUE(client.SendText("how is the weather"));
  ASSERT_TRUE(client.WaitForTurn(1));
  EXPECT_EQ(client.turn(1)->reply(), kWeatherReply);
  EXPECT_GE(IndexOf(client.events(), StageEvent("stage.stt.skipped")), 0);
  EXPECT_TRUE(client.ReplyAudio(1) == ExpectedReplyAudio({"It is sunny today.", "Take a hat!"}));
}

TEST_F(OrchestratorTest, BadInputGetsInvalidArgumentNamingTheProblem) {
  auto expect_invalid = [&](const std::vector<v1::ConverseRequest>& requests,
                            const std::string& message) {
    ConverseClient client(Channel());
    for (const auto& request : requests) client.Send(request);
    client.CloseSend();
    const grpc::Status status = client.Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << message;
    EXPECT_THAT(status.error_message(), HasSubstr(message));
  };
  v1::ConverseRequest config;
  *config.mutable_config() = Config();
  v1::ConverseRequest audio;
  audio.mutable_audio()->set_data(std::string(640, '\0'));
  audio.mutable_audio()->set_format(v1::PCM16);
  audio.mutable_audio()->set_sample_rate(16000);
  audio.mutable_audio()->set_channels(1);

  expect_invalid({audio}, "audio before config: the first request must be a SessionConfig");
  expect_invalid({config, config}, "config sent twice");
  v1::ConverseRequest unknown = config;
  unknown.mutable_config()->set_pipeline("nope");
  expect_invalid({unknown}, "config.pipeline: unknown pipeline 'nope'");
  v1::ConverseRequest no_rate = config;
  no_rate.mutable_config()->mutable_input_format()->set_sample_rate(0);
  expect_invalid({no_rate}, "config.input_format");
  v1::ConverseRequest bad_id = config;
  bad_id.mutable_config()->set_session_id("a b");
  expect_invalid({bad_id}, "config.session_id may only use");
  v1::ConverseRequest wrong_rate = audio;
  wrong_rate.mutable_audio()->set_sample_rate(8000);
  expect_invalid({config, wrong_rate}, "audio: ");
  v1::ConverseRequest odd = audio;
  odd.mutable_audio()->set_data(std::string(641, '\0'));
  expect_invalid({config, odd}, "audio: ");
  v1::ConverseRequest control;
  control.mutable_control();
  expect_invalid({config, control},
                 "control.type must be END_OF_INPUT (1) or INTERRUPT (2), got 0");
  v1::ConverseRequest text;
  text.mutable_text();
  expect_invalid({config, text}, "text.text is empty");
  expect_invalid({config, v1::ConverseRequest()}, "empty request");
  expect_invalid({}, "stream ended before a SessionConfig was sent");

  // The server is fine afterwards.
  ConverseClient client(Channel(), Config());
  ASSERT_TRUE(client.SendText("weather"));
  ASSERT_TRUE(client.WaitForTurn(1));
  client.CloseSend();
  EXPECT_TRUE(client.Finish().ok());
}

TEST_F(OrchestratorTest, HundredConcurrentSessionsGetTheirOwnResults) {
  constexpr int kSessions = 100;
  std::vector<std::string> clips;
  std::vector<std::pair<std::string, std::string>> map;
  for (int i = 0; i < kSessions; ++i) {
    clips.push_back(Tone(300 + 7 * i, 200));
    map.emplace_back(clips.back(), absl::StrCat("session number ", i));
  }
  // A server pair of its own, whose STT knows these clips.
  auto stt = ServerProcess::Start(
      kStt, {"--provider=mock", "--mock_latency_ms=20", "--mock_latency_jitter_ms=10",
             "--max_streams=400", AudioMap(map)});
  ASSERT_TRUE(stt.ok()) << stt.status();
  auto tts =
      ServerProcess::Start(kTts, {"--provider=mock", "--mock_latency_ms=0", "--max_streams=400",
                                  absl::StrCat("--mock_bytes_per_char=", kBytesPerChar)});
  ASSERT_TRUE(tts.ok()) << tts.status();
  auto orchestrator = StartOrchestrator(**stt, **tts);
  ASSERT_NE(orchestrator, nullptr);
  auto channel = grpc::CreateChannel(orchestrator->address(), grpc::InsecureChannelCredentials());

  std::atomic<int> correct{0};
  std::vector<std::string> failures(kSessions);
  std::vector<std::thread> threads;
  for (int i = 0; i < kSessions; ++i) {
    threads.emplace_back([&, i] {
      ConverseClient client(channel, Config());
      client.SendAudio(clips[i], Pcm16k());
      client.SendControl(v1::Control::END_OF_INPUT);
      client.CloseSend();
      if (!client.WaitForTurn(1, absl::Seconds(120))) {
        failures[i] = "no TurnCompleted";
        return;
      }
      const grpc::Status status = client.Finish();
      const std::string said = absl::StrCat("session number ", i);
      const std::string reply = absl::StrCat("You said: ", said, ".");
      const v1::TurnCompleted turn = *client.turn(1);
      if (!status.ok() || turn.transcript() != said || turn.reply() != reply ||
          !(client.ReplyAudio(1) == ExpectedReplyAudio({reply}))) {
        failures[i] = absl::StrCat("status=", status.error_message(), " transcript='",
                                   turn.transcript(), "' reply='", turn.reply(), "'");
        return;
      }
      ++correct;
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int i = 0; i < kSessions; ++i) EXPECT_EQ(failures[i], "") << "session " << i;
  EXPECT_EQ(correct, kSessions);
}

TEST(OrchestratorBackendTest, ClientDisconnectReleasesTheBackendStream) {
  // The STT service admits one stream: a stream leaked by the first session would starve the
  // second.
  auto stt = ServerProcess::Start(kStt, SttArgs({"--max_streams=1", "--metrics_port=0"}));
  ASSERT_TRUE(stt.ok()) << stt.status();
  auto tts = ServerProcess::Start(kTts, TtsArgs());
  ASSERT_TRUE(tts.ok()) << tts.status();
  auto orchestrator = StartOrchestrator(**stt, **tts);
  ASSERT_NE(orchestrator, nullptr);
  auto channel = grpc::CreateChannel(orchestrator->address(), grpc::InsecureChannelCredentials());
  {
    ConverseClient leaving(channel, Config());
    // Loud enough for the voice activity detector: the turn starts while the user speaks.
    ASSERT_TRUE(leaving.SendAudio(testing::SpeechPcm16k("hello"), Pcm16k()));
    // An interim transcript proves the backend stream is open.
    ASSERT_TRUE(leaving.WaitFor([](const std::vector<TimedEvent>& events) {
      for (const TimedEvent& e : events) {
        if (e.event.has_transcript()) return true;
      }
      return false;
    }));
    leaving.Cancel();
    EXPECT_EQ(leaving.Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  // The cancel reaches the STT service over the network a little later (a slow machine, TSan):
  // wait for the stream to be released there; a leaked one never is.
  ASSERT_TRUE(testing::WaitForMetric(
      (*stt)->metrics_port(), "voxflow_active_streams{service=\"stt\"}", 0, absl::Seconds(20)))
      << "the STT stream of the session that left was not released";
  for (int turn = 1; turn <= 2; ++turn) {
    ConverseClient next(channel, Config());
    ASSERT_TRUE(next.SendAudio(kWeatherAudio, Pcm16k()));
    ASSERT_TRUE(next.SendControl(v1::Control::END_OF_INPUT));
    ASSERT_TRUE(next.WaitForTurn(1));
    EXPECT_EQ(next.turn(1)->transcript(), "what is the weather");
    EXPECT_THAT(next.turn(1)->degradations(), SizeIs(0));
  }
}

TEST(OrchestratorBackendTest, SttTimeoutDegradesToAnEmptyTranscript) {
  auto stt = ServerProcess::Start(kStt, SttArgs({"--mock_hang"}));
  ASSERT_TRUE(stt.ok()) << stt.status();
  auto tts = ServerProcess::Start(kTts, TtsArgs());
  ASSERT_TRUE(tts.ok()) << tts.status();
  auto orchestrator = StartOrchestrator(**stt, **tts);
  ASSERT_NE(orchestrator, nullptr);
  auto channel = grpc::CreateChannel(orchestrator->address(), grpc::InsecureChannelCredentials());
  ConverseClient client(channel, Config("impatient_chat"));  // stt times out after 300 ms.
  ASSERT_TRUE(client.SendAudio(kWeatherAudio, Pcm16k()));
  ASSERT_TRUE(client.SendControl(v1::Control::END_OF_INPUT));
  ASSERT_TRUE(client.WaitForTurn(1));
  EXPECT_THAT(client.turn(1)->degradations(), ElementsAre("stt_timeout"));
  EXPECT_EQ(client.turn(1)->transcript(), "");
  const auto errors = client.Filter(Case::kError, 1);
  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_EQ(errors[0].event.error().code(), static_cast<int>(grpc::StatusCode::DEADLINE_EXCEEDED));
  EXPECT_THAT(errors[0].event.error().message(), HasSubstr("timed out after 300 ms"));
  // The llm had nothing to answer: skipped, and so no reply audio.
  EXPECT_GE(IndexOf(client.events(), StageEvent("stage.llm.skipped")), 0);
  EXPECT_TRUE(client.ReplyAudio(1).empty());
}

// The TTS service dying mid-reply once left TurnCompleted.reply holding the whole text.
TEST(OrchestratorBackendTest, TtsKilledMidReplyReportsWhatWasHeardAndTtsFailed) {
  auto stt = ServerProcess::Start(kStt, SttArgs());
  ASSERT_TRUE(stt.ok()) << stt.status();
  auto tts = ServerProcess::Start(kTts, TtsArgs());
  ASSERT_TRUE(tts.ok()) << tts.status();
  auto orchestrator = StartOrchestrator(**stt, **tts);
  ASSERT_NE(orchestrator, nullptr);
  auto channel = grpc::CreateChannel(orchestrator->address(), grpc::InsecureChannelCredentials());
  ConverseClient client(channel, Config("slow_chat"));  // The story, 40 ms per token.
  ASSERT_TRUE(client.SendAudio(kStoryAudio, Pcm16k()));
  ASSERT_TRUE(client.SendControl(v1::Control::END_OF_INPUT));
  ASSERT_TRUE(client.WaitFor(AnyReplyAudio));
  (*tts)->Signal(SIGKILL);
  ASSERT_TRUE(client.WaitForTurn(1));
  const v1::TurnCompleted turn = *client.turn(1);
  EXPECT_NE(turn.reply(), kStory);
  EXPECT_FALSE(turn.reply().empty());
  EXPECT_TRUE(absl::StartsWith(kStory, absl::StrReplaceAll(turn.reply(), {{"...", ""}})))
      << turn.reply();
  EXPECT_THAT(turn.degradations(), ::testing::Contains("tts_failed"));
  const auto errors = client.Filter(Case::kError, 1);
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors[0].event.error().stage(), "tts");
}

TEST(OrchestratorBackendTest, SttKilledMidTurnGivesAnErrorEventAndRecoversAfterRestart) {
  auto stt = ServerProcess::Start(kStt, SttArgs());
  ASSERT_TRUE(stt.ok()) << stt.status();
  const int stt_port = (*stt)->port();
  auto tts = ServerProcess::Start(kTts, TtsArgs());
  ASSERT_TRUE(tts.ok()) << tts.status();
  auto orchestrator = StartOrchestrator(**stt, **tts);
  ASSERT_NE(orchestrator, nullptr);
  auto channel = grpc::CreateChannel(orchestrator->address(), grpc::InsecureChannelCredentials());

  ConverseClient client(channel, Config());
  ASSERT_TRUE(client.SendAudio(testing::SpeechPcm16k("hello"), Pcm16k()));  // The turn starts.
  ASSERT_TRUE(client.WaitFor([](const std::vector<TimedEvent>& events) {
    for (const TimedEvent& e : events) {
      if (e.event.has_transcript()) return true;
    }
    return false;
  }));
  (*stt)->Signal(SIGKILL);
  ASSERT_TRUE((*stt)->WaitForExit(absl::Seconds(10)).ok());
  ASSERT_TRUE(client.WaitForTurn(1));
  const auto errors = client.Filter(Case::kError, 1);
  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_EQ(errors[0].event.error().stage(), "stt");
  EXPECT_EQ(errors[0].event.error().code(), static_cast<int>(grpc::StatusCode::UNAVAILABLE));
  EXPECT_THAT(errors[0].event.error().message(), HasSubstr("stt backend 127.0.0.1:"));
  EXPECT_TRUE(errors[0].event.error().recoverable());
  EXPECT_THAT(client.turn(1)->degradations(), ElementsAre("stt_failed"));

  // Back on the same port: the next turn works.
  auto restarted = ServerProcess::Start(kStt, SttArgs({absl::StrCat("--port=", stt_port)}));
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  ASSERT_TRUE(client.SendControl(v1::Control::END_OF_INPUT));  // Ends the broken utterance.
  ASSERT_TRUE(client.SendAudio(kWeatherAudio, Pcm16k()));
  ASSERT_TRUE(client.SendControl(v1::Control::END_OF_INPUT));
  ASSERT_TRUE(client.WaitFor([](const std::vector<TimedEvent>& events) {
    for (const TimedEvent& e : events) {
      if (e.event.has_turn_completed() &&
          e.event.turn_completed().transcript() == "what is the weather") {
        return true;
      }
    }
    return false;
  }));
  client.CloseSend();
  EXPECT_TRUE(client.Finish().ok());
}

}  // namespace
}  // namespace voxflow

namespace voxflow {
namespace {

TEST(OrchestratorLimitsTest, SessionEndsAtMaxSessionDuration) {
  auto stt = ServerProcess::Start(kStt, SttArgs());
  ASSERT_TRUE(stt.ok()) << stt.status();
  auto tts = ServerProcess::Start(kTts, TtsArgs());
  ASSERT_TRUE(tts.ok()) << tts.status();
  auto orchestrator = StartOrchestrator(**stt, **tts, {"--max_session_duration=500ms"});
  ASSERT_NE(orchestrator, nullptr);
  auto channel = grpc::CreateChannel(orchestrator->address(), grpc::InsecureChannelCredentials());
  ConverseClient client(channel, Config());
  // The user keeps the stream open without ending it; the server ends it at the limit.
  ASSERT_TRUE(client.WaitFor([](const std::vector<TimedEvent>& events) {
    return !events.empty() && events.front().event.has_session_started();
  }));
  const grpc::Status status = client.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_THAT(status.error_message(), HasSubstr("limit of 500ms"));
}

}  // namespace
}  // namespace voxflow
