// Remote speech providers end to end: real orchestrator, STT and TTS processes whose provider is
// an OpenAI-compatible audio server (the in-tree fake, in this process), and a caller who just
// talks (an open microphone at real time, no end of input).
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "mocks/fake_openai_audio_server.h"
#include "nlohmann/json.hpp"
#include "services/common/audio_chunk.h"
#include "services/tts/render_speech.h"
#include "tests/util/converse_client.h"
#include "tests/util/fixtures.h"
#include "tests/util/microphone.h"

namespace voxflow {
namespace {

using mocks::FakeOpenAiAudioServer;
using testing::ConverseClient;
using ::testing::HasSubstr;
using testing::Microphone;
using Json = nlohmann::json;

v1::SessionConfig Config() {
  v1::SessionConfig config;
  *config.mutable_input_format() = MakeStreamFormat(v1::PCM16, 16000, 1);
  *config.mutable_output_format() = MakeStreamFormat(v1::PCM16, 16000, 1);
  return config;
}

// espeak-ng in this process through the TTS engine, as the fake speaks (the fixtures' own
// espeak-ng use would take its callback away).
std::string Speech(const std::string& text) { return *tts::RenderSpeech(text, 16000, 0); }

testing::VoiceStack RemoteStack(const FakeOpenAiAudioServer& fake, const std::string& stt_chain,
                                const std::string& tts_chain) {
  const std::string url = absl::StrCat("--openai_base_url=", fake.base_url());
  return testing::StartVoiceStack(
      {"--providers=" + stt_chain, url, "--openai_model=whisper-test", "--openai_timeout_ms=1000"},
      {"--providers=" + tts_chain, url, "--openai_model=tts-test", "--openai_voices=alloy",
       "--openai_timeout_ms=1000"});
}

// A caller who says `said` into an open microphone after 300 ms of silence, and keeps it open;
// the call once its first turn completed (null if it did not within 30 s).
std::unique_ptr<ConverseClient> Say(const testing::VoiceStack& stack, const std::string& said) {
  auto client = std::make_unique<ConverseClient>(
      grpc::CreateChannel(stack.orchestrator->address(), grpc::InsecureChannelCredentials()),
      Config());
  Microphone mic(*client);
  mic.Play(testing::SilencePcm16k(300));
  mic.Play(Speech(said));
  if (!client->WaitForTurn(1, absl::Seconds(30))) return nullptr;
  return client;
}

TEST(SpeechProvidersTest, TheCallerIsHeardAndAnsweredByTheRemoteServers) {
  mocks::FakeAudioServerOptions options;
  options.speech_chunk_ms = 40;
  options.speech_chunk_interval = absl::Milliseconds(40);  // Speech "rendered" at real time.
  FakeOpenAiAudioServer fake(options);
  fake.ScriptTranscripts({"what time is it"});
  const testing::VoiceStack stack = RemoteStack(fake, "openai", "openai");
  ASSERT_TRUE(stack.ok());
  std::unique_ptr<ConverseClient> call = Say(stack, "tell me the time please");
  ASSERT_NE(call, nullptr) << "no turn completed";
  ConverseClient& client = *call;
  const v1::TurnCompleted* turn = client.turn(1);
  ASSERT_NE(turn, nullptr);
  EXPECT_EQ(turn->transcript(), "what time is it");  // The fake's words, not what was said.
  ASSERT_FALSE(turn->reply().empty());

  // The reply was spoken by the fake: one request per sentence, each the reply's own text.
  std::vector<FakeOpenAiAudioServer::Request> speech;
  for (const auto& r : fake.requests()) {
    if (r.path == "/v1/audio/speech") speech.push_back(r);
  }
  ASSERT_FALSE(speech.empty());
  size_t fake_bytes = 0;
  std::string spoken;
  for (const auto& r : speech) {
    const Json body = Json::parse(r.body);
    EXPECT_EQ(body["voice"], "alloy");
    EXPECT_EQ(body["model"], "tts-test");
    absl::StrAppend(&spoken, spoken.empty() ? "" : " ", body["input"].get<std::string>());
    fake_bytes += tts::RenderSpeech(body["input"], 24000, 0)->size();
  }
  EXPECT_EQ(spoken, turn->reply());
  // The caller heard the fake's audio, resampled from 24 to 16 kHz (each sentence's tail
  // padded to a whole chunk at most).
  const std::string heard = client.ReplyAudio(1);
  EXPECT_NEAR(static_cast<double>(heard.size()), fake_bytes * 2.0 / 3.0,
              speech.size() * 640.0 + 0.02 * fake_bytes);
  // And the first of it before the fake had finished saying the first sentence.
  const auto audio = client.Filter(v1::ConverseEvent::kReplyAudio, 1);
  ASSERT_FALSE(audio.empty());
  EXPECT_LT(audio.front().received, speech.front().answered)
      << "first reply audio at " << audio.front().received << ", the fake finished at "
      << speech.front().answered;
  std::cerr << "first reply audio came " << speech.front().answered - audio.front().received
            << " before the fake finished its first sentence\n";
  client.CloseSend();
  EXPECT_TRUE(client.Finish().ok());
}

TEST(SpeechProvidersTest, WhenTheRemoteServersFailTheOfflineEnginesServeTheSameTurn) {
  FakeOpenAiAudioServer fake;
  fake.Fail(FakeOpenAiAudioServer::Endpoint::kTranscriptions, {.status = 500});
  fake.Fail(FakeOpenAiAudioServer::Endpoint::kSpeech, {.status = 503});
  const testing::VoiceStack stack = RemoteStack(fake, "openai,pocketsphinx", "openai,espeak-ng");
  ASSERT_TRUE(stack.ok());
  std::unique_ptr<ConverseClient> call = Say(stack, "the weather is nice today");
  ASSERT_NE(call, nullptr) << "no turn completed";
  ConverseClient& client = *call;
  const v1::TurnCompleted* turn = client.turn(1);
  ASSERT_NE(turn, nullptr);
  EXPECT_THAT(turn->transcript(), HasSubstr("nice today"));  // Pocketsphinx heard it.
  EXPECT_FALSE(turn->reply().empty());
  EXPECT_GT(client.ReplyAudio(1).size(), 16000u);  // Espeak-ng said it: over half a second.
  EXPECT_GE(fake.count(FakeOpenAiAudioServer::Endpoint::kTranscriptions), 1);
  EXPECT_GE(fake.count(FakeOpenAiAudioServer::Endpoint::kSpeech), 1);
  client.CloseSend();
  EXPECT_TRUE(client.Finish().ok());
}

}  // namespace
}  // namespace voxflow
