// Opus over Converse end to end: real orchestrator, mock STT and TTS processes. The caller's
// speech goes in as Opus packets (one per chunk) and the reply comes back as Opus packets.
#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
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

// A caller who just talks over a network that jitters: Opus packets sent at real time, each
// delayed by up to 40 ms either way (seeded), so that they arrive out of order; no END_OF_INPUT
// (the server's endpointing ends the turn). What the recognizer gets must be exactly what it
// gets from the same packets in order, and turn.stats must say what the network did.
struct OpusCall {
  std::string transcript;  // The mock STT's: bytes of decoded audio in the utterance.
  std::map<std::string, std::string> stats;
};

OpusCall CallWithJitter(const std::string& address, const std::vector<std::string>& packets,
                        double jitter_ms, const std::set<uint64_t>& dropped = {}) {
  const v1::AudioStreamFormat opus = MakeStreamFormat(v1::OPUS, 16000, 1);
  v1::SessionConfig config;
  *config.mutable_input_format() = opus;
  *config.mutable_output_format() = MakeStreamFormat(v1::PCM16, 16000, 1);
  config.set_telemetry(true);
  ConverseClient client(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()), config);
  std::mt19937 random(24);
  std::uniform_real_distribution<double> jitter(-jitter_ms, jitter_ms);
  std::vector<std::pair<double, uint64_t>> schedule;  // (send at ms, sequence)
  for (uint64_t i = 0; i < packets.size(); ++i) {
    const double at = 40.0 + 20.0 * static_cast<double>(i) + jitter(random);
    if (!dropped.contains(i + 1)) schedule.emplace_back(at, i + 1);  // The network lost it.
  }
  std::sort(schedule.begin(), schedule.end());
  const absl::Time start = absl::Now();
  for (const auto& [at, sequence] : schedule) {
    absl::SleepFor(start + absl::Milliseconds(at) - absl::Now());
    v1::ConverseRequest request;
    v1::AudioChunk* audio = request.mutable_audio();
    audio->set_format(v1::OPUS);
    audio->set_sample_rate(16000);
    audio->set_channels(1);
    audio->set_sequence(sequence);
    audio->set_data(packets[sequence - 1]);
    EXPECT_TRUE(client.Send(request));
  }
  OpusCall call;
  EXPECT_TRUE(client.WaitFor([](const std::vector<TimedEvent>& events) {
    for (const TimedEvent& e : events) {
      if (e.event.has_telemetry() && e.event.telemetry().name() == "turn.stats") return true;
    }
    return false;
  })) << "the turn did not end";
  if (const v1::TurnCompleted* turn = client.turn(1)) call.transcript = turn->transcript();
  for (const TimedEvent& e : client.Filter(v1::ConverseEvent::kTelemetry)) {
    if (e.event.telemetry().name() != "turn.stats") continue;
    for (const auto& [key, value] : e.event.telemetry().attributes()) call.stats[key] = value;
  }
  client.CloseSend();
  EXPECT_TRUE(client.Finish().ok());
  return call;
}

TEST(OpusConverseTest, PacketsReorderedByNetworkJitterLoseNothing) {
  const testing::VoiceStack stack = testing::StartVoiceStack(
      {"--provider=mock", "--mock_latency_ms=0", "--mock_transcriptions={bytes}"},
      {"--provider=mock", "--mock_latency_ms=0"});
  ASSERT_TRUE(stack.ok());
  const v1::AudioStreamFormat opus = MakeStreamFormat(v1::OPUS, 16000, 1);
  auto encoder = *OpusStreamEncoder::Create(opus);
  // Half a second of silence, a question, a second and a half of silence (the turn ends in it).
  const std::string pcm = std::string(16000, '\0') + testing::SpeechPcm16k("what time is it") +
                          std::string(48000, '\0');
  std::vector<std::string> packets = *encoder->Encode(pcm);
  std::vector<std::string> last = *encoder->Flush();
  packets.insert(packets.end(), last.begin(), last.end());

  const OpusCall in_order = CallWithJitter(stack.orchestrator->address(), packets, 0);
  const OpusCall jittered = CallWithJitter(stack.orchestrator->address(), packets, 40);
  ASSERT_FALSE(in_order.transcript.empty());
  EXPECT_EQ(jittered.transcript, in_order.transcript) << "the recognizer heard other audio";
  EXPECT_EQ(in_order.stats.at("input_reordered"), "0");
  EXPECT_NE(jittered.stats.at("input_reordered"), "0") << "the network did not reorder";
  for (const OpusCall* call : {&in_order, &jittered}) {
    EXPECT_EQ(call->stats.at("input_lost"), "0");
    EXPECT_EQ(call->stats.at("input_late"), "0");
    EXPECT_EQ(call->stats.at("input_concealed_ms"), "0.0");
  }
}

// A jittery, lossy network: 5 % of the packets never arrive (seeded, none at the stream's ends),
// the rest up to 40 ms early or late. Every reordered packet still takes its place; each lost one
// is counted and concealed (20 ms of audio each), and the turn still ends with a transcript.
TEST(OpusConverseTest, LostPacketsAreConcealedAndCountedAndReorderedOnesLoseNothing) {
  const testing::VoiceStack stack = testing::StartVoiceStack(
      {"--provider=mock", "--mock_latency_ms=0", "--mock_transcriptions={bytes}"},
      {"--provider=mock", "--mock_latency_ms=0"});
  ASSERT_TRUE(stack.ok());
  auto encoder = *OpusStreamEncoder::Create(MakeStreamFormat(v1::OPUS, 16000, 1));
  const std::string pcm = std::string(16000, '\0') + testing::SpeechPcm16k("what time is it") +
                          std::string(48000, '\0');
  std::vector<std::string> packets = *encoder->Encode(pcm);
  std::vector<std::string> last = *encoder->Flush();
  packets.insert(packets.end(), last.begin(), last.end());
  std::mt19937 random(5);
  std::set<uint64_t> dropped;
  const uint64_t count = packets.size();
  // Losses before the question ends: the turn's own stats count them (later ones are the next
  // turn's, which the call does not reach).
  const uint64_t speech_ends = (16000 + testing::SpeechPcm16k("what time is it").size()) / 640;
  while (dropped.size() < count / 20) {
    // Not two in a row: each loss is its own gap (a burst would be one longer concealment).
    const uint64_t sequence = 10 + random() % (speech_ends - 10);
    if (!dropped.contains(sequence - 1) && !dropped.contains(sequence + 1)) {
      dropped.insert(sequence);
    }
  }
  const OpusCall call = CallWithJitter(stack.orchestrator->address(), packets, 40, dropped);
  std::printf(
      "%zu packets, %zu lost: turn.stats input_lost=%s input_late=%s input_reordered=%s "
      "input_concealed_ms=%s\n",
      packets.size(), dropped.size(), call.stats.at("input_lost").c_str(),
      call.stats.at("input_late").c_str(), call.stats.at("input_reordered").c_str(),
      call.stats.at("input_concealed_ms").c_str());
  EXPECT_FALSE(call.transcript.empty());
  EXPECT_EQ(call.stats.at("input_lost"), absl::StrCat(dropped.size()));
  EXPECT_EQ(call.stats.at("input_late"), "0") << "a reordered packet came too late";
  EXPECT_NE(call.stats.at("input_reordered"), "0") << "the network did not reorder";
  EXPECT_EQ(call.stats.at("input_concealed_ms"), absl::StrCat(20 * dropped.size(), ".0"));
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
