// The TTS service as a real process over loopback gRPC: espeak-ng and mock engines.
#include <cmath>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "services/common/sample_format.h"
#include "tests/util/server_process.h"
#include "voxflow/v1/tts.grpc.pb.h"

namespace voxflow {
namespace {

using ::testing::HasSubstr;

constexpr char kServer[] = "services/tts/tts_server";

std::chrono::system_clock::time_point In(absl::Duration d) {
  return absl::ToChronoTime(absl::Now() + d);
}

v1::SynthesizeRequest ConfigRequest(int rate = 16000, int chunk_ms = 100) {
  v1::SynthesizeRequest request;
  v1::SynthesisConfig* config = request.mutable_config();
  config->set_language("en-US");
  config->mutable_output_format()->set_format(v1::PCM16);
  config->mutable_output_format()->set_sample_rate(rate);
  config->mutable_output_format()->set_channels(1);
  config->set_chunk_duration_ms(chunk_ms);
  return request;
}

v1::SynthesizeRequest TextRequest(std::string text, std::string id = "") {
  v1::SynthesizeRequest request;
  request.mutable_text()->set_text(std::move(text));
  request.mutable_text()->set_piece_id(std::move(id));
  return request;
}

struct StreamResult {
  std::vector<v1::SynthesizeResponse> responses;
  grpc::Status status;
  std::string Audio() const {
    std::string audio;
    for (const auto& r : responses) audio += r.audio().data();
    return audio;
  }
};

StreamResult Stream(const std::shared_ptr<grpc::Channel>& channel,
                    const std::vector<v1::SynthesizeRequest>& requests,
                    absl::Duration deadline = absl::Seconds(60)) {
  grpc::ClientContext context;
  context.set_deadline(In(deadline));
  auto stream = v1::TextToSpeech::NewStub(channel)->StreamingSynthesize(&context);
  StreamResult result;
  std::thread reader([&] {
    v1::SynthesizeResponse response;
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

class TtsServiceTest : public ::testing::Test {
 protected:
  void StartServer(std::vector<std::string> args) {
    auto process = testing::ServerProcess::Start(kServer, args);
    ASSERT_TRUE(process.ok()) << process.status();
    process_ = *std::move(process);
    channel_ = grpc::CreateChannel(process_->address(), grpc::InsecureChannelCredentials());
  }
  std::unique_ptr<testing::ServerProcess> process_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(TtsServiceTest, EspeakSpeaksSentenceBySentence) {
  StartServer({"--provider=espeak-ng"});
  const std::string first = "Hello world.", second = "This is a streaming speech test.";
  const StreamResult result = Stream(
      channel_, {ConfigRequest(16000), TextRequest(first + " ", "a"), TextRequest(second, "b")});
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  const std::string audio = result.Audio();
  EXPECT_GT(RmsLevel(audio, v1::PCM16), 0.02) << "non-silent";
  const double seconds = audio.size() / 2 / 16000.0;
  const double chars = static_cast<double>(first.size() + second.size());
  // Speech runs at roughly 10-20 characters a second.
  EXPECT_GT(seconds, chars / 30);
  EXPECT_LT(seconds, chars / 5);
  std::vector<std::string> texts;
  for (const auto& r : result.responses) {
    EXPECT_EQ(r.audio().sample_rate(), 16000);
    if (!r.is_final() && (texts.empty() || texts.back() != r.text())) texts.push_back(r.text());
    if (!r.is_final() && r.audio().data().size() != 3200u) {
      // Only a sentence's last chunk may be short.
      EXPECT_LT(r.audio().data().size(), 3200u);
    }
  }
  EXPECT_EQ(texts, (std::vector<std::string>{first, second}));
  EXPECT_TRUE(result.responses.back().is_final());
}

TEST_F(TtsServiceTest, ListsVoicesAndSynthesizesAClip) {
  StartServer({"--provider=espeak-ng"});
  grpc::ClientContext context;
  context.set_deadline(In(absl::Seconds(30)));
  v1::ListVoicesRequest request;
  request.set_language("en-us");
  v1::ListVoicesResponse voices;
  ASSERT_TRUE(v1::TextToSpeech::NewStub(channel_)->ListVoices(&context, request, &voices).ok());
  ASSERT_GT(voices.voices_size(), 0);
  EXPECT_EQ(voices.voices(0).provider(), "espeak-ng");

  v1::SynthesizeClipRequest clip;
  *clip.mutable_config() = ConfigRequest(22050).config();
  clip.set_text("One clip, whole.");
  v1::SynthesizeClipResponse response;
  grpc::ClientContext clip_context;
  clip_context.set_deadline(In(absl::Seconds(30)));
  ASSERT_TRUE(v1::TextToSpeech::NewStub(channel_)->Synthesize(&clip_context, clip, &response).ok());
  EXPECT_EQ(response.audio().sample_rate(), 22050);
  EXPECT_GT(response.audio().data().size(), 22050u);  // Over half a second.
}

TEST_F(TtsServiceTest, MockAudioIsDeterministic) {
  StartServer({"--provider=mock", "--mock_latency_ms=0"});
  const auto requests =
      std::vector<v1::SynthesizeRequest>{ConfigRequest(), TextRequest("Same text.")};
  const std::string a = Stream(channel_, requests).Audio();
  const std::string b = Stream(channel_, requests).Audio();
  EXPECT_EQ(a.size(), 10u * 100);  // bytes_per_char = 100.
  EXPECT_TRUE(a == b) << "same text, same bytes";
}

TEST_F(TtsServiceTest, EveryBadInputGetsItsStatusAndTheServerGoesOn) {
  StartServer({"--provider=mock", "--mock_latency_ms=0"});
  auto with = [](auto edit) {
    v1::SynthesizeRequest request = ConfigRequest();
    edit(request.mutable_config());
    return request;
  };
  struct Case {
    std::string name;
    std::vector<v1::SynthesizeRequest> requests;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"text before config", {TextRequest("hi")}, "text before config"},
      {"second config", {ConfigRequest(), ConfigRequest()}, "config sent twice"},
      {"bad rate",
       {with([](auto* c) { c->mutable_output_format()->set_sample_rate(5); })},
       "sample_rate 5 is not supported"},
      {"bad format",
       {with(
           [](auto* c) { c->mutable_output_format()->set_format(v1::AUDIO_FORMAT_UNSPECIFIED); })},
       "format is required"},
      {"tiny chunks", {with([](auto* c) { c->set_chunk_duration_ms(5); })}, "chunk_duration_ms 5"},
      {"unknown voice", {with([](auto* c) { c->set_voice("HAL"); })}, "unknown voice 'HAL'"},
      {"unknown language",
       {with([](auto* c) { c->set_language("tlh"); })},
       "no voice for language 'tlh'"},
      {"speaking rate", {with([](auto* c) { c->set_speaking_rate(9); })}, "speaking_rate 9"},
      {"unknown provider",
       {with([](auto* c) { c->set_provider("polly"); })},
       "config.provider 'polly' is not served here"},
      {"empty text", {ConfigRequest(), TextRequest("")}, "text piece is empty"},
      {"oversized text",
       {ConfigRequest(), TextRequest(std::string(5000, 'a'))},
       "exceeds the limit of 4096"},
      {"empty request", {v1::SynthesizeRequest()}, "empty request"},
      {"no config at all", {}, "before a SynthesisConfig"},
  };
  for (const Case& c : cases) {
    const StreamResult result = Stream(channel_, c.requests);
    EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.name;
    EXPECT_THAT(result.status.error_message(), HasSubstr(c.message)) << c.name;
    const StreamResult good = Stream(channel_, {ConfigRequest(), TextRequest("Still here.")});
    ASSERT_TRUE(good.status.ok()) << c.name << ": " << good.status.error_message();
    EXPECT_EQ(good.Audio().size(), 11u * 100) << c.name;
  }
}

TEST_F(TtsServiceTest, StreamsBeyondTheLimitAreResourceExhausted) {
  StartServer(
      {"--provider=mock", "--max_streams=1", "--mock_latency_ms=0", "--mock_chunk_delay_ms=100"});
  grpc::ClientContext context;
  context.set_deadline(In(absl::Seconds(60)));
  auto busy = v1::TextToSpeech::NewStub(channel_)->StreamingSynthesize(&context);
  ASSERT_TRUE(busy->Write(ConfigRequest()));
  ASSERT_TRUE(busy->Write(TextRequest(std::string(400, 'a') + ". ")));
  v1::SynthesizeResponse response;
  ASSERT_TRUE(busy->Read(&response));  // The server is rendering it.
  const StreamResult second = Stream(channel_, {ConfigRequest()});
  EXPECT_EQ(second.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  context.TryCancel();
  while (busy->Read(&response)) {
  }
  EXPECT_EQ(busy->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(TtsServiceTest, CancelAndDeadlineStopEngineWorkPromptly) {
  StartServer({"--provider=mock", "--workers=1", "--mock_hang"});
  const StreamResult expired =
      Stream(channel_, {ConfigRequest(), TextRequest("Never. ")}, absl::Milliseconds(500));
  EXPECT_EQ(expired.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // The one worker is free again: a request it must handle is answered.
  const StreamResult next = Stream(channel_, {TextRequest("x")});
  EXPECT_EQ(next.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(TtsServiceTest, TwoHundredConcurrentStreamsAllComplete) {
  StartServer({"--provider=mock", "--mock_latency_ms=10", "--workers=16"});
  constexpr int kStreams = 200;
  std::vector<StreamResult> results(kStreams);
  std::vector<std::thread> clients;
  for (int i = 0; i < kStreams; ++i) {
    clients.emplace_back([&, i] {
      results[i] = Stream(channel_, {ConfigRequest(), TextRequest("Concurrent speech. "),
                                     TextRequest("Second sentence.")});
    });
  }
  for (auto& client : clients) client.join();
  int ok = 0;
  for (const StreamResult& r : results) {
    // Sentences are spoken without surrounding spaces: 100 bytes per spoken character.
    const size_t spoken =
        std::string("Concurrent speech.").size() + std::string("Second sentence.").size();
    ok += r.status.ok() && r.Audio().size() == spoken * 100;
    EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  }
  EXPECT_EQ(ok, kStreams);
}

}  // namespace
}  // namespace voxflow
