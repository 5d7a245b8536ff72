// Opus over Converse end to end: real orchestrator, mock STT and TTS processes. The caller's
// speech goes in as Opus packets (one per chunk) and the reply comes back as Opus packets.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "services/common/audio_chunk.h"
#include "services/common/opus_codec.h"
#include "tests/util/converse_client.h"
#include "tests/util/fixtures.h"
#include "tests/util/server_process.h"
#include "voxflow/v1/orchestrator.grpc.pb.h"

namespace voxflow {
namespace {

using testing::ConverseClient;
using ::testing::HasSubstr;
using testing::TimedEvent;

TEST(OpusConverseTest, SpeechInAndReplyOutAsOpusPackets) {
  // The mock STT transcribes a stream as the number of bytes it carried: what the orchestrator
  // decoded from the packets.
  const testing::VoiceStack stack = testing::StartVoiceStack(
      {"--provider=mock", "--mock_latency_ms=0", "--mock_transcriptions={bytes}"},
      {"--provider=mock", "--mock_latency_ms=0", "--mock_bytes_per_char=64"});
  ASSERT_TRUE(stack.ok());
  const auto& orchestrator = stack.orchestrator;

  const v1::AudioStreamFormat opus = MakeStreamFormat(v1::OPUS, 16000, 1);
  v1::SessionConfig config;
  *config.mutable_input_format() = opus;
  *config.mutable_output_format() = opus;
  ConverseClient client(
      grpc::CreateChannel(orchestrator->address(), grpc::InsecureChannelCredentials()), config);

  const std::string speech = testing::SpeechPcm16k("hello there how are you");
  auto encoder = *OpusStreamEncoder::Create(opus);
  std::vector<std::string> packets = *encoder->Encode(speech);
  std::vector<std::string> last = *encoder->Flush();
  packets.insert(packets.end(), last.begin(), last.end());
  uint64_t sequence = 0;
  for (const std::string& packet : packets) {
    v1::ConverseRequest request;
    v1::AudioChunk* audio = request.mutable_audio();
    audio->set_format(v1::OPUS);
    audio->set_sample_rate(16000);
    audio->set_channels(1);
    audio->set_sequence(++sequence);
    audio->set_data(packet);
    ASSERT_TRUE(client.Send(request));
  }
  ASSERT_TRUE(client.SendControl(v1::Control::END_OF_INPUT));
  ASSERT_TRUE(client.WaitForTurn(1)) << "the turn did not complete";

  // What the STT service got: the speech the utterance held, decoded to 16 kHz PCM16 (the
  // utterance keeps up to 1 s of what came before the speech, and the silence after it is cut).
  const v1::TurnCompleted* turn = client.turn(1);
  ASSERT_NE(turn, nullptr);
  int64_t stt_bytes = 0;
  ASSERT_TRUE(absl::SimpleAtoi(turn->transcript(), &stt_bytes)) << turn->transcript();
  EXPECT_GT(stt_bytes, static_cast<int64_t>(speech.size() / 2));
  EXPECT_LE(stt_bytes, static_cast<int64_t>(packets.size() * 640));

  // The reply: Opus packets, one per 20 ms chunk, that decode to the mock's audio.
  auto decoder = *OpusStreamDecoder::Create(opus);
  size_t decoded_bytes = 0;
  int chunks = 0;
  for (const TimedEvent& e : client.Filter(v1::ConverseEvent::kReplyAudio, 1)) {
    const v1::AudioChunk& audio = e.event.reply_audio().audio();
    EXPECT_EQ(audio.format(), v1::OPUS);
    EXPECT_EQ(audio.sample_rate(), 16000);
    absl::StatusOr<std::string> pcm = decoder->Decode(audio.data(), audio.sequence() + 1);
    ASSERT_TRUE(pcm.ok()) << pcm.status();
    EXPECT_EQ(pcm->size(), 640u) << "one 20 ms packet per chunk";
    decoded_bytes += pcm->size();
    ++chunks;
  }
  EXPECT_GT(chunks, 0);
  // The mock renders 64 bytes of 16 kHz PCM16 per character of the reply; each sentence's tail
  // is padded to a whole packet.
  const size_t expected = turn->reply().size() * 64;
  EXPECT_GE(decoded_bytes + 640, expected);
  EXPECT_LE(decoded_bytes, expected + 4 * 640);
  client.CloseSend();
  EXPECT_TRUE(client.Finish().ok());
}

TEST(OpusConverseTest, CorruptPacketsAndRatesOpusDoesNotCodeAreRefused) {
  const testing::VoiceStack stack =
      testing::StartVoiceStack({"--provider=mock"}, {"--provider=mock"});
  ASSERT_TRUE(stack.ok());
  const auto& orchestrator = stack.orchestrator;
  auto channel = grpc::CreateChannel(orchestrator->address(), grpc::InsecureChannelCredentials());

  v1::SessionConfig config;
  *config.mutable_input_format() = MakeStreamFormat(v1::OPUS, 44100, 1);
  *config.mutable_output_format() = MakeStreamFormat(v1::PCM16, 16000, 1);
  ConverseClient odd_rate(channel, config);
  grpc::Status status = odd_rate.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("config.input_format.sample_rate 44100 is not an Opus rate"));

  *config.mutable_input_format() = MakeStreamFormat(v1::OPUS, 16000, 1);
  ConverseClient corrupt(channel, config);
  v1::ConverseRequest request;
  v1::AudioChunk* audio = request.mutable_audio();
  audio->set_format(v1::OPUS);
  audio->set_sample_rate(16000);
  audio->set_channels(1);
  audio->set_sequence(5);
  audio->set_data(std::string("\xff\xff\xff", 3));
  corrupt.Send(request);
  status = corrupt.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("audio chunk 5"));
}

}  // namespace
}  // namespace voxflow
