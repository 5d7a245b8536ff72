#include "services/common/opus_codec.h"

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace voxflow {
namespace {

using ::testing::HasSubstr;

v1::AudioStreamFormat Opus(int rate, int channels) {
  v1::AudioStreamFormat format;
  format.set_format(v1::OPUS);
  format.set_sample_rate(rate);
  format.set_channels(channels);
  return format;
}

std::string Tone(int rate, int ms, double hz) {
  std::string pcm;
  for (int i = 0; i < rate / 1000 * ms; ++i) {
    const auto v = static_cast<int16_t>(8000 * std::sin(2 * M_PI * hz * i / rate));
    pcm.append(reinterpret_cast<const char*>(&v), 2);
  }
  return pcm;
}

double Rms(const std::string& pcm) {
  double sum = 0;
  for (size_t i = 0; i + 1 < pcm.size(); i += 2) {
    int16_t v;
    std::memcpy(&v, pcm.data() + i, 2);
    sum += static_cast<double>(v) * v;
  }
  return pcm.empty() ? 0 : std::sqrt(sum / static_cast<double>(pcm.size() / 2));
}

TEST(OpusCodecTest, OnlyRatesAndChannelsOpusCodes) {
  EXPECT_TRUE(ValidateOpusFormat(Opus(48000, 2), "f").ok());
  EXPECT_TRUE(ValidateOpusFormat(Opus(8000, 1), "f").ok());
  EXPECT_THAT(ValidateOpusFormat(Opus(44100, 1), "config.input_format").message(),
              HasSubstr("config.input_format.sample_rate 44100 is not an Opus rate"));
  EXPECT_THAT(ValidateOpusFormat(Opus(16000, 3), "f").message(), HasSubstr("f.channels 3"));
  EXPECT_EQ(DecodedFormat(Opus(24000, 2)).format(), v1::PCM16);
  EXPECT_EQ(DecodedFormat(Opus(24000, 2)).sample_rate(), 24000);
}

TEST(OpusCodecTest, RoundTripIn20MsPackets) {
  for (int rate : {8000, 16000, 48000}) {
    auto encoder = *OpusStreamEncoder::Create(Opus(rate, 1));
    auto decoder = *OpusStreamDecoder::Create(Opus(rate, 1));
    const std::string tone = Tone(rate, 1000, 440);
    // Pieces that do not line up with frames: packets come out per complete 20 ms.
    std::vector<std::string> packets;
    for (size_t at = 0; at < tone.size(); at += 300) {
      auto more = encoder->Encode(tone.substr(at, 300));
      ASSERT_TRUE(more.ok());
      packets.insert(packets.end(), more->begin(), more->end());
    }
    auto last = encoder->Flush();
    ASSERT_TRUE(last.ok());
    packets.insert(packets.end(), last->begin(), last->end());
    EXPECT_EQ(packets.size(), 50u) << rate;
    std::string decoded;
    uint64_t sequence = 0;
    for (const std::string& packet : packets) {
      EXPECT_LT(packet.size(), 200u) << "a speech bitrate, not PCM";
      auto pcm = decoder->Decode(packet, ++sequence);
      ASSERT_TRUE(pcm.ok()) << pcm.status();
      decoded += *pcm;
    }
    EXPECT_EQ(decoded.size(), tone.size()) << rate;
    EXPECT_NEAR(Rms(decoded.substr(decoded.size() / 2)), Rms(tone.substr(tone.size() / 2)),
                0.25 * Rms(tone))
        << rate;
  }
}

TEST(OpusCodecTest, GapsAreConcealedAndLatePacketsGiveNoAudio) {
  auto encoder = *OpusStreamEncoder::Create(Opus(16000, 1));
  auto decoder = *OpusStreamDecoder::Create(Opus(16000, 1));
  std::vector<std::string> packets = *encoder->Encode(Tone(16000, 200, 300));
  ASSERT_EQ(packets.size(), 10u);
  std::string decoded;
  for (uint64_t seq : {1, 2, 3, 6, 7}) decoded += *decoder->Decode(packets[seq - 1], seq);
  // 4 and 5 are missing: concealed, so the stream keeps its timing.
  EXPECT_EQ(decoded.size(), 7u * 640);
  EXPECT_EQ(decoder->concealed_ms(), 40);
  // 5 arrives late: its time has passed.
  EXPECT_EQ(decoder->Decode(packets[4], 5)->size(), 0u);
  EXPECT_EQ(decoder->late_packets(), 1);
  // An absurd jump conceals at most kMaxConcealedMs, then plays on.
  const std::string after = *decoder->Decode(packets[7], 1'000'000);
  EXPECT_EQ(after.size(), static_cast<size_t>(OpusStreamDecoder::kMaxConcealedMs + 20) * 32);
}

TEST(OpusCodecTest, CorruptPacketsAreRefusedNamingTheChunk) {
  auto decoder = *OpusStreamDecoder::Create(Opus(16000, 1));
  for (const std::string& bytes : {std::string("\xff\xff\xff", 3), std::string(1, '\x0b')}) {
    absl::StatusOr<std::string> pcm = decoder->Decode(bytes, 7);
    if (pcm.ok()) continue;  // Some bytes happen to be a valid (tiny) packet.
    EXPECT_EQ(pcm.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(pcm.status().message(), HasSubstr("audio chunk 7"));
  }
  absl::StatusOr<std::string> empty = decoder->Decode("", 8);
  EXPECT_FALSE(empty.ok());
  EXPECT_THAT(empty.status().message(), HasSubstr("audio chunk 8"));
}

}  // namespace
}  // namespace voxflow
