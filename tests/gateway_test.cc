// The gateway end to end: real processes (mock STT and TTS, an orchestrator whose llm stage asks
// the in-tree fake model server, the gateway) and callers over real WebSockets: a phone call as
// Twilio Media Streams makes it (real time, no end of input, marks echoed as Twilio does), a
// client of /v1/converse, and every kind of bad input.
#include <csignal>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/gateway/twilio_signature.h"
#include "services/orchestrator/llm/fake_openai_server.h"
#include "tests/util/fixtures.h"
#include "tests/util/metrics_scrape.h"
#include "tests/util/server_process.h"
#include "tests/util/twilio_caller.h"
#include "tests/util/websocket_client.h"

namespace voxflow {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;
using testing::TwilioCaller;
using testing::WebSocketClient;

constexpr char kTwilioToken[] = "twilio-test-auth-token";
constexpr char kClientToken[] = "browser-test-token";

std::string WriteFile(const std::string& name, const std::string& content) {
  const std::string path = testing::TempPath(name);
  FILE* file = std::fopen(path.c_str(), "w");
  std::fputs(content.c_str(), file);
  std::fclose(file);
  return path;
}

// Mock speech services, an orchestrator on the fake model server, and a gateway in front.
class Gateway {
 public:
  Gateway(const std::string& model, const std::vector<std::string>& gateway_flags = {},
          const std::vector<std::string>& stt_flags = {"--provider=mock", "--mock_latency_ms=0"},
          const std::vector<std::string>& tts_flags = {"--provider=mock", "--mock_latency_ms=0",
                                                       "--mock_bytes_per_char=80"},
          const std::vector<std::string>& orchestrator_flags = {}) {
    std::vector<std::string> flags = {"--llm_provider=openai",
                                      absl::StrCat("--llm_base_url=", model_.base_url()),
                                      absl::StrCat("--llm_model=", model), "--metrics_port=0"};
    flags.insert(flags.end(), orchestrator_flags.begin(), orchestrator_flags.end());
    stack_ = testing::StartVoiceStack(stt_flags, tts_flags, flags);
    if (!stack_.ok()) return;
    flags = {
        "--http_port=0",
        "--metrics_port=0",
        absl::StrCat("--orchestrator_target=", stack_.orchestrator->address()),
        absl::StrCat("--twilio_auth_token_file=", WriteFile("twilio_token", kTwilioToken)),
    };
    flags.insert(flags.end(), gateway_flags.begin(), gateway_flags.end());
    gateway_ = testing::StartServer("services/gateway/gateway_server", flags);
  }
  bool ok() const { return stack_.ok() && gateway_ != nullptr && gateway_->http_port() > 0; }
  int port() const { return gateway_->http_port(); }
  testing::ServerProcess& process() { return *gateway_; }
  orchestrator::testing::FakeOpenAiServer& model() { return model_; }

  std::unique_ptr<TwilioCaller> Call(std::map<std::string, std::string> parameters = {}) {
    TwilioCaller::Options options;
    options.twilio_auth_token = kTwilioToken;
    options.custom_parameters = std::move(parameters);
    auto caller = TwilioCaller::Call(port(), options);
    EXPECT_TRUE(caller.ok()) << caller.status();
    return caller.ok() ? *std::move(caller) : nullptr;
  }

 private:
  orchestrator::testing::FakeOpenAiServer model_;
  testing::VoiceStack stack_;
  std::unique_ptr<testing::ServerProcess> gateway_;
};

// The story the fake model tells, cut after `sentences` sentences.
std::string Story(int sentences) {
  std::vector<std::string> parts;
  for (int i = 1; i <= sentences; ++i)
    parts.push_back(absl::StrCat("This is sentence number ", i, "."));
  return absl::StrJoin(parts, " ");
}

// The messages of the model's second request (empty when it did not come within `timeout`).
Json SecondRequestMessages(Gateway& gateway, TwilioCaller& caller, absl::Duration timeout) {
  if (!caller.WaitFor([&](const TwilioCaller::Heard&) { return gateway.model().requests() >= 2; },
                      timeout)) {
    return Json::array();
  }
  return Json::parse(gateway.model().bodies().at(1))["messages"];
}

// The next turn's request carries the reply as the marks say it was heard: whole sentences, up
// to the last mark played before the clear (or the one before, when its echo crossed the clear),
// never cut by what was merely sent.
void ExpectHeardAsMarked(const Json& messages, size_t played) {
  ASSERT_GE(messages.size(), 3u);
  EXPECT_EQ(messages[messages.size() - 2]["role"], "assistant");
  const std::string heard = messages[messages.size() - 2]["content"];
  std::printf("marks played before the clear: %zu; heard: \"%s\"\n", played, heard.c_str());
  EXPECT_THAT(heard, Not(HasSubstr("...")));
  EXPECT_TRUE(heard == Story(static_cast<int>(played)) ||
              heard == Story(static_cast<int>(played) - 1))
      << heard;
}

TEST(GatewayTwilioTest, APhoneCallIsAnsweredInterruptedAndMarksDecideWhatWasHeard) {
  Gateway gateway("story", {},
                  {"--provider=mock", "--mock_latency_ms=0",
                   "--mock_transcriptions=tell me a story|what is going on"});
  ASSERT_TRUE(gateway.ok());
  auto caller = gateway.Call({{"customer", "42"}});
  ASSERT_NE(caller, nullptr);
  caller->Say(testing::SilencePcm16k(300));
  const int question = caller->Say(testing::SpeechPcm16k("tell me a story"));
  const absl::Time asked = caller->WaitSaid(question).second;

  // The reply comes back as media, with marks after its sentences that the caller echoes as it
  // plays them.
  ASSERT_TRUE(caller->WaitFor(
      [](const TwilioCaller::Heard& h) { return h.played_marks.size() >= 2; }, absl::Seconds(20)))
      << "no reply played";
  const TwilioCaller::Heard before = caller->heard();
  EXPECT_TRUE(before.unexpected.empty()) << before.unexpected.front();
  std::printf("end of question -> first reply media at the caller: %.0f ms\n",
              absl::ToDoubleMilliseconds(before.first_media - asked));

  // A second question over the reply: Twilio is told to clear what it holds.
  const int barge_in = caller->Say(testing::SpeechPcm16k("what is going on here"));
  ASSERT_TRUE(caller->WaitFor([](const TwilioCaller::Heard& h) { return !h.clears.empty(); },
                              absl::Seconds(10)))
      << "no clear for speech over the reply";
  const TwilioCaller::Heard at_clear = caller->heard();
  const absl::Time spoke = caller->WaitSaid(barge_in).first;
  std::printf("barge-in: speech began -> clear %.0f ms; last reply media -> clear %.0f ms\n",
              absl::ToDoubleMilliseconds(at_clear.clears.front() - spoke),
              absl::ToDoubleMilliseconds(at_clear.clears.front() - at_clear.last_media));
  // The pause stops the reply and the clear follows on the same stream: no frame between.
  EXPECT_LT(at_clear.clears.front() - at_clear.last_media, absl::Seconds(1));
  const size_t played = at_clear.played_marks.size();

  const Json messages = SecondRequestMessages(gateway, *caller, absl::Seconds(15));
  ASSERT_GE(messages.size(), 3u) << "the second question got no turn";
  ExpectHeardAsMarked(messages, played);
  EXPECT_EQ(messages.back()["content"], "what is going on");

  // The second reply plays too.
  const int media_at_clear = at_clear.media;
  EXPECT_TRUE(
      caller->WaitFor([&](const TwilioCaller::Heard& h) { return h.media > media_at_clear + 10; },
                      absl::Seconds(10)));
  caller->HangUp();
  const auto closed = caller->socket().WaitClosed(absl::Seconds(5));
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, 1000);

  // At the gateway: the call counted, its voice-to-voice observed, closed normally.
  const std::string metrics = testing::ScrapeMetrics(gateway.process().metrics_port());
  EXPECT_THAT(metrics, HasSubstr("voxflow_gateway_connections_total{kind=\"twilio\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("voxflow_gateway_voice_to_voice_seconds_count{kind=\"twilio\"}"));
  EXPECT_TRUE(testing::WaitForMetric(gateway.process().metrics_port(),
                                     "voxflow_gateway_closes_total{code=\"1000\"}", 1,
                                     absl::Seconds(5)));
}

// The same call with the offline engines: pocketsphinx hears the caller in mu-law 8 kHz, espeak-ng
// speaks the reply. Whatever pocketsphinx makes of the question, the caller hears the story, its
// voice over the reply clears Twilio's buffer, and the marks decide what the next turn says was
// heard.
TEST(GatewayTwilioTest, RealEnginesAnswerAPhoneCallAndMarksDecideWhatWasHeard) {
  Gateway gateway("story", {}, {"--provider=pocketsphinx"}, {"--provider=espeak-ng"});
  ASSERT_TRUE(gateway.ok());
  auto caller = gateway.Call();
  ASSERT_NE(caller, nullptr);
  caller->Say(testing::SilencePcm16k(500));
  caller->Say(testing::SpeechPcm16k("please tell me a long story about the sea"));
  ASSERT_TRUE(caller->WaitFor(
      [](const TwilioCaller::Heard& h) { return h.played_marks.size() >= 2; }, absl::Seconds(40)))
      << "no reply played: the model was asked " << gateway.model().requests() << " times";
  // Speech, not silence: espeak-ng's mu-law is far from the 0xFF of silence.
  const TwilioCaller::Heard before = caller->heard();
  int loud = 0;
  for (unsigned char c : before.reply_audio) loud += (c & 0x7F) < 0x60;
  EXPECT_GT(loud, static_cast<int>(before.reply_audio.size() / 10));

  caller->Say(testing::SpeechPcm16k("stop please what is going on here"));
  ASSERT_TRUE(caller->WaitFor([](const TwilioCaller::Heard& h) { return !h.clears.empty(); },
                              absl::Seconds(10)))
      << "no clear for speech over the reply";
  const size_t played = caller->heard().played_marks.size();
  const Json messages = SecondRequestMessages(gateway, *caller, absl::Seconds(30));
  ASSERT_GE(messages.size(), 3u) << "the second question got no turn";
  std::printf("pocketsphinx heard \"%s\", then \"%s\"\n",
              std::string(messages[messages.size() - 3]["content"]).c_str(),
              std::string(messages.back()["content"]).c_str());
  ExpectHeardAsMarked(messages, played);
}

TEST(GatewayTwilioTest, TheReplyAudioIsTheOrchestratorsAndDtmfReachesTheSession) {
  Gateway gateway("ok", {},
                  {"--provider=mock", "--mock_latency_ms=0", "--mock_transcriptions=hello"});
  ASSERT_TRUE(gateway.ok());
  auto caller = gateway.Call({{"pipeline", "voice_chat"}});
  ASSERT_NE(caller, nullptr);
  caller->Say(testing::SilencePcm16k(200));
  caller->Say(testing::SpeechPcm16k("hello"));
  // "Hello there!" from the fake model, as the mock TTS renders it in mu-law 8 kHz.
  v1::AudioStreamFormat mulaw;
  mulaw.set_format(v1::MULAW);
  mulaw.set_sample_rate(8000);
  mulaw.set_channels(1);
  const std::string expected = testing::MockReplyAudio("Hello there!", 80, mulaw);
  ASSERT_TRUE(caller->WaitFor(
      [&](const TwilioCaller::Heard& h) { return h.reply_audio.size() >= expected.size(); },
      absl::Seconds(20)));
  EXPECT_EQ(caller->heard().reply_audio.substr(0, expected.size()), expected);

  // A key press is a turn of its own: the model is told which key.
  caller->socket().SendText(
      R"({"event":"dtmf","streamSid":"MZ00000000000000000000000000000001",)"
      R"("sequenceNumber":"900","dtmf":{"track":"inbound_track","digit":"7"}})");
  ASSERT_TRUE(
      caller->WaitFor([&](const TwilioCaller::Heard&) { return gateway.model().requests() >= 2; },
                      absl::Seconds(10)));
  const Json body = Json::parse(gateway.model().bodies().at(1));
  EXPECT_EQ(body["messages"].back()["content"], "The caller pressed 7 on the keypad.");
  EXPECT_TRUE(caller->heard().unexpected.empty());
}

TEST(GatewayTwilioTest, SignaturesAreCheckedOnTheUpgrade) {
  Gateway gateway("ok");
  ASSERT_TRUE(gateway.ok());
  int status = 0;
  auto unsigned_call = WebSocketClient::Connect(gateway.port(), "/twilio", {}, &status);
  EXPECT_FALSE(unsigned_call.ok());
  EXPECT_EQ(status, 403);
  EXPECT_THAT(std::string(unsigned_call.status().message()), HasSubstr("X-Twilio-Signature"));
  auto forged = WebSocketClient::Connect(
      gateway.port(), "/twilio", {{"X-Twilio-Signature", "akysMtAgnTTp99dLi5CdNFd2E5M="}}, &status);
  EXPECT_FALSE(forged.ok());
  EXPECT_EQ(status, 403);
  auto signed_call = gateway.Call();
  ASSERT_NE(signed_call, nullptr);
}

// One bad thing a client does, and the close code and reason it gets.
struct BadFrame {
  const char* name;
  const char* target;
  std::vector<std::pair<bool, std::string>> frames;
  int code;
  const char* reason;
};

TEST(GatewayBadInputTest, EveryBadInputGetsItsCloseOrStatusAndHarmsNoOne) {
  Gateway gateway("ok",
                  {absl::StrCat("--ws_auth_tokens_file=", WriteFile("tokens", kClientToken)),
                   "--max_frame_bytes=4096", "--idle_timeout=1s", "--max_connections_per_client=4",
                   "--allowed_origins=https://app.example"},
                  {"--provider=mock", "--mock_latency_ms=0", "--mock_transcriptions=hello"});
  ASSERT_TRUE(gateway.ok());
  const int port = gateway.port();
  const std::string start =
      R"({"event":"start","sequenceNumber":"1","streamSid":"MZ1",)"
      R"("start":{"streamSid":"MZ1","callSid":"CA1","tracks":["inbound"],)"
      R"("mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}})";
  const std::string config =
      R"({"inputFormat":{"format":"PCM16","sampleRate":16000,"channels":1},)"
      R"("outputFormat":{"format":"PCM16","sampleRate":16000,"channels":1}})";
  const std::string auth = absl::StrCat("/v1/converse?token=", kClientToken);
  const std::vector<BadFrame> cases = {
      {"bad JSON", "/twilio", {{true, "{nope"}}, 1007, "not JSON"},
      {"unknown event", "/twilio", {{true, R"({"event":"party"})"}}, 1008, "unknown event"},
      {"media before start",
       "/twilio",
       {{true, R"({"event":"media","media":{"chunk":"1","timestamp":"0","payload":"//8="}})"}},
       1008,
       "media before start"},
      {"bad base64",
       "/twilio",
       {{true, start},
        {true,
         R"({"event":"media","streamSid":"MZ1","media":{"chunk":"1","timestamp":"0","payload":"%%%"}})"}},
       1007,
       "not base64"},
      {"binary to twilio", "/twilio", {{false, "\x01\x02"}}, 1003, "text frames only"},
      {"oversized frame", "/twilio", {{true, std::string(5000, ' ')}}, 1009, ""},
      {"audio before config",
       auth.c_str(),
       {{false, std::string(640, '\0')}},
       1008,
       "audio before config"},
      {"config not JSON", auth.c_str(), {{true, "config please"}}, 1007, "config:"},
      {"config refused by the orchestrator",
       auth.c_str(),
       {{true, R"({"inputFormat":{"format":"PCM16","sampleRate":3,"channels":1}})"}},
       4003,
       "config.input_format"},
      {"request not JSON", auth.c_str(), {{true, config}, {true, "[]"}}, 1007, "request:"},
      {"a bad request the orchestrator refuses",
       auth.c_str(),
       {{true, config}, {true, R"({"text":{"text":""}})"}},
       4003,
       "text.text is empty"},
      {"silence past the idle timeout", "/twilio", {{true, start}}, 1008, "idle"},
  };
  for (const BadFrame& bad : cases) {
    SCOPED_TRACE(bad.name);
    WebSocketClient::Headers headers;
    if (absl::StartsWith(bad.target, "/twilio")) {
      headers.emplace_back("X-Twilio-Signature",
                           gateway::TwilioSignature(
                               kTwilioToken, absl::StrCat("wss://127.0.0.1:", port, "/twilio")));
    }
    auto client = WebSocketClient::Connect(port, bad.target, headers);
    ASSERT_TRUE(client.ok()) << client.status();
    for (const auto& [text, data] : bad.frames) (*client)->Send(text, data);
    const auto closed = (*client)->WaitClosed(absl::Seconds(10));
    ASSERT_TRUE(closed.has_value());
    EXPECT_EQ(closed->code, bad.code) << closed->reason;
    EXPECT_THAT(closed->reason, HasSubstr(bad.reason));
  }

  // Refused before the upgrade, with an HTTP status.
  struct Refusal {
    const char* name;
    const char* target;
    WebSocketClient::Headers headers;
    int status;
  };
  const std::vector<Refusal> refusals = {
      {"unknown path", "/nowhere", {}, 404},
      {"no token", "/v1/converse", {}, 401},
      {"wrong token", "/v1/converse?token=guess", {}, 401},
      {"another site's page", auth.c_str(), {{"Origin", "https://evil.example"}}, 403},
  };
  for (const Refusal& refusal : refusals) {
    SCOPED_TRACE(refusal.name);
    int status = 0;
    auto client = WebSocketClient::Connect(port, refusal.target, refusal.headers, &status);
    EXPECT_FALSE(client.ok());
    EXPECT_EQ(status, refusal.status);
  }
  auto allowed =
      WebSocketClient::Connect(port, "/v1/converse",
                               {{"Origin", "https://app.example"},
                                {"Authorization", absl::StrCat("Bearer ", kClientToken)}});
  EXPECT_TRUE(allowed.ok()) << allowed.status();
  auto plain = testing::HttpGet(port, "/v1/converse");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->first, 426);
  auto post = testing::HttpGet(port, "/", {}, "POST");
  ASSERT_TRUE(post.ok());
  EXPECT_EQ(post->first, 405);

  // Connections per client: the limit holds, and frees as they close.
  std::vector<std::unique_ptr<WebSocketClient>> held;
  held.push_back(*std::move(allowed));
  while (held.size() < 4) {
    auto more = WebSocketClient::Connect(port, auth);
    ASSERT_TRUE(more.ok()) << more.status();
    held.push_back(*std::move(more));
  }
  int status = 0;
  EXPECT_FALSE(WebSocketClient::Connect(port, auth, {}, &status).ok());
  EXPECT_EQ(status, 429);
  held.clear();

  // The gateway still serves: the page, its health, and a good call.
  auto page = testing::HttpGet(port, "/");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->first, 200);
  EXPECT_THAT(page->second, HasSubstr("<title>Voxflow</title>"));
  auto health = testing::HttpGet(port, "/healthz");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->first, 200);
  auto caller = gateway.Call();
  ASSERT_NE(caller, nullptr);
  caller->Say(testing::SilencePcm16k(200));
  caller->Say(testing::SpeechPcm16k("hello"));
  // "Hello there!": 12 characters of 80 bytes.
  EXPECT_TRUE(
      caller->WaitFor([](const TwilioCaller::Heard& h) { return h.reply_audio.size() >= 12 * 80; },
                      absl::Seconds(20)))
      << "a good call after the bad ones got no answer";
}

// A caller who never reads: past --max_queued_bytes waiting for it the gateway ends its call
// (1008, as the orchestrator ends its own slow readers) and cuts the connection when even the
// close frame cannot be delivered. Another call goes on meanwhile.
TEST(GatewayBadInputTest, ACallerWhoNeverReadsIsCutAndHarmsNoOne) {
  // 1600 bytes a character: the story is 13 s of 16 kHz audio, paced at real time.
  Gateway gateway(
      "story",
      {"--max_queued_bytes=16384", "--socket_send_buffer_bytes=16384", "--idle_timeout=120s"},
      {"--provider=mock", "--mock_latency_ms=0", "--mock_transcriptions=hello"},
      {"--provider=mock", "--mock_latency_ms=0", "--mock_bytes_per_char=1600"});
  ASSERT_TRUE(gateway.ok());
  auto deaf = WebSocketClient::ConnectWithoutReading(gateway.port(), "/v1/converse");
  ASSERT_TRUE(deaf.ok()) << deaf.status();
  (*deaf)->SendText(R"({"inputFormat":{"format":"PCM16","sampleRate":16000,"channels":1},)"
                    R"("outputFormat":{"format":"PCM16","sampleRate":16000,"channels":1}})");
  (*deaf)->SendText(R"({"text":{"text":"tell me a story"}})");

  auto caller = gateway.Call();
  ASSERT_NE(caller, nullptr);
  caller->Say(testing::SilencePcm16k(200));
  caller->Say(testing::SpeechPcm16k("hello"));
  EXPECT_TRUE(
      caller->WaitFor([](const TwilioCaller::Heard& h) { return h.media > 20; }, absl::Seconds(30)))
      << "the reader's neighbour got no answer";
  caller->HangUp();

  EXPECT_TRUE(testing::WaitForMetric(gateway.process().metrics_port(),
                                     "voxflow_slow_reader_total{service=\"gateway\"}", 1,
                                     absl::Seconds(60)));
  // The close frame cannot reach a peer that reads nothing: the connection is cut.
  EXPECT_TRUE(testing::WaitForMetric(gateway.process().metrics_port(),
                                     "voxflow_gateway_closes_total{code=\"1008\"}", 1,
                                     absl::Seconds(30)))
      << testing::ScrapeMetrics(gateway.process().metrics_port());
  EXPECT_TRUE(testing::WaitForMetric(gateway.process().metrics_port(),
                                     "voxflow_gateway_connections{kind=\"browser\"}", 0,
                                     absl::Seconds(5)));
  EXPECT_TRUE(caller->heard().unexpected.empty());
}

TEST(GatewayConverseSocketTest, AClientOfTheWebSocketProtocolGetsEventsAndAudio) {
  Gateway gateway("ok", {},
                  {"--provider=mock", "--mock_latency_ms=0", "--mock_transcriptions=hello"});
  ASSERT_TRUE(gateway.ok());
  auto client = WebSocketClient::Connect(gateway.port(), "/v1/converse");
  ASSERT_TRUE(client.ok()) << client.status();
  (*client)->SendText(R"({"inputFormat":{"format":"PCM16","sampleRate":16000,"channels":1},)"
                      R"("outputFormat":{"format":"PCM16","sampleRate":16000,"channels":1},)"
                      R"("interimResults":true})");
  const std::string speech = testing::SpeechPcm16k("hello");
  for (size_t offset = 0; offset < speech.size(); offset += 640) {
    (*client)->Send(false, speech.substr(offset, 640));
  }
  (*client)->SendText(R"({"control":{"type":"END_OF_INPUT"}})");
  v1::AudioStreamFormat pcm;
  pcm.set_format(v1::PCM16);
  pcm.set_sample_rate(16000);
  pcm.set_channels(1);
  const std::string expected = testing::MockReplyAudio("Hello there!", 80, pcm);
  auto audio_of = [](const std::vector<WebSocketClient::Message>& messages) {
    std::string audio;
    for (const auto& m : messages) {
      if (!m.text) audio += m.data;
    }
    return audio;
  };
  ASSERT_TRUE((*client)->WaitFor(
      [&](const std::vector<WebSocketClient::Message>& messages) {
        for (const auto& m : messages) {
          if (m.text && absl::StrContains(m.data, "turnCompleted")) return true;
        }
        return false;
      },
      absl::Seconds(20)));
  const auto messages = (*client)->messages();
  EXPECT_EQ(audio_of(messages), expected);
  // Events are JSON; the reply audio's header comes before its first binary frame.
  bool session = false, transcript = false, header_before_audio = false, seen_header = false;
  for (const auto& m : messages) {
    if (!m.text) {
      header_before_audio |= seen_header;
      continue;
    }
    const Json event = Json::parse(m.data);
    session |= event.contains("sessionStarted");
    transcript |= event.contains("transcript") && event["transcript"].value("isFinal", false) &&
                  event["transcript"]["text"] == "hello";
    seen_header |= event.contains("replyAudio");
  }
  EXPECT_TRUE(session);
  EXPECT_TRUE(transcript);
  EXPECT_TRUE(header_before_audio);
  (*client)->Close(1000);
  const auto closed = (*client)->WaitClosed(absl::Seconds(5));
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, 1000);
}

TEST(GatewayDrainTest, SigtermClosesNewConnectionsAndGoesAwayAfterTheDrain) {
  Gateway gateway("ok", {"--drain_timeout=1s"});
  ASSERT_TRUE(gateway.ok());
  auto caller = gateway.Call();
  ASSERT_NE(caller, nullptr);
  caller->Say(testing::SilencePcm16k(200));
  const absl::Time signalled = absl::Now();
  gateway.process().Signal(SIGTERM);
  const auto closed = caller->socket().WaitClosed(absl::Seconds(15));
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, 1001);
  EXPECT_THAT(closed->reason, HasSubstr("going away"));
  EXPECT_GE(absl::Now() - signalled, absl::Milliseconds(900));  // The drain was waited for.
  auto exit_code = gateway.process().WaitForExit(absl::Seconds(15));
  ASSERT_TRUE(exit_code.ok());
  EXPECT_EQ(*exit_code, 0);
}

}  // namespace
}  // namespace voxflow
