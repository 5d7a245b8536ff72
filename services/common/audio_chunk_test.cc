#include "services/common/audio_chunk.h"

#include <string>

#include "gtest/gtest.h"

namespace voxflow {
namespace {

v1::AudioChunk Chunk(const v1::AudioStreamFormat& f, std::string data) {
  v1::AudioChunk c;
  c.set_format(f.format());
  c.set_sample_rate(f.sample_rate());
  c.set_channels(f.channels());
  c.set_data(std::move(data));
  c.set_sequence(7);
  return c;
}

TEST(BytesPerSampleTest, EveryFormat) {
  EXPECT_EQ(*BytesPerSample(v1::PCM16), 2);
  EXPECT_EQ(*BytesPerSample(v1::PCM24), 3);
  EXPECT_EQ(*BytesPerSample(v1::PCM32), 4);
  EXPECT_EQ(*BytesPerSample(v1::FLOAT32), 4);
  EXPECT_EQ(*BytesPerSample(v1::MULAW), 1);
  EXPECT_EQ(*BytesPerSample(v1::ALAW), 1);
  EXPECT_EQ(BytesPerSample(v1::OPUS).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BytesPerSample(v1::AUDIO_FORMAT_UNSPECIFIED).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(DurationTest, FromBytes) {
  // 16 kHz mono PCM16: 32000 bytes per second.
  EXPECT_DOUBLE_EQ(*DurationMs(32000, MakeStreamFormat(v1::PCM16, 16000, 1)), 1000.0);
  EXPECT_DOUBLE_EQ(*DurationMs(640, MakeStreamFormat(v1::PCM16, 16000, 1)), 20.0);
  // 48 kHz stereo FLOAT32: 384000 bytes per second.
  EXPECT_DOUBLE_EQ(*DurationMs(3840, MakeStreamFormat(v1::FLOAT32, 48000, 2)), 10.0);
  EXPECT_DOUBLE_EQ(*DurationMs(160, MakeStreamFormat(v1::MULAW, 8000, 1)), 20.0);
  EXPECT_FALSE(DurationMs(100, MakeStreamFormat(v1::PCM16, 0, 1)).ok());
  EXPECT_FALSE(DurationMs(100, MakeStreamFormat(v1::PCM16, 16000, 0)).ok());
}

TEST(DurationTest, BytesForDurationIsWholeFrames) {
  EXPECT_EQ(*BytesForDuration(20, MakeStreamFormat(v1::PCM16, 16000, 1)), 640u);
  EXPECT_EQ(*BytesForDuration(50, MakeStreamFormat(v1::PCM24, 16000, 2)), 4800u);
  // 1 ms at 22050 Hz is 22.05 frames: rounded down to 22 whole frames.
  EXPECT_EQ(*BytesForDuration(1, MakeStreamFormat(v1::PCM16, 22050, 1)), 44u);
  EXPECT_FALSE(BytesForDuration(-1, MakeStreamFormat(v1::PCM16, 16000, 1)).ok());
}

TEST(ValidateStreamFormatTest, AcceptsSupported) {
  EXPECT_TRUE(
      ValidateStreamFormat(MakeStreamFormat(v1::PCM16, 16000, 1), "config.audio_format").ok());
  EXPECT_TRUE(ValidateStreamFormat(MakeStreamFormat(v1::FLOAT32, 48000, 2), "f").ok());
  EXPECT_TRUE(ValidateStreamFormat(MakeStreamFormat(v1::MULAW, 8000, 1), "f").ok());
}

TEST(ValidateStreamFormatTest, NamesTheProblem) {
  EXPECT_EQ(
      ValidateStreamFormat(MakeStreamFormat(v1::AUDIO_FORMAT_UNSPECIFIED, 16000, 1), "cfg.fmt"),
      absl::InvalidArgumentError("cfg.fmt.format is required"));
  EXPECT_EQ(
      ValidateStreamFormat(MakeStreamFormat(v1::PCM16, 12345678, 1), "cfg.fmt"),
      absl::InvalidArgumentError("cfg.fmt.sample_rate 12345678 is not supported (8000..48000 Hz)"));
  EXPECT_EQ(ValidateStreamFormat(MakeStreamFormat(v1::PCM16, 16000, 0), "cfg.fmt"),
            absl::InvalidArgumentError("cfg.fmt.channels 0 is not supported (1..8)"));
  EXPECT_EQ(ValidateStreamFormat(MakeStreamFormat(v1::OPUS, 16000, 1), "cfg.fmt"),
            absl::InvalidArgumentError("cfg.fmt.format OPUS is not supported"));
  EXPECT_EQ(
      ValidateStreamFormat(MakeStreamFormat(static_cast<v1::AudioFormat>(99), 16000, 1), "cfg.fmt"),
      absl::InvalidArgumentError("cfg.fmt.format 99 is not a known AudioFormat"));
}

TEST(ValidateChunkTest, AcceptsMatchingWholeFrames) {
  const auto f = MakeStreamFormat(v1::PCM16, 16000, 1);
  EXPECT_TRUE(ValidateChunk(Chunk(f, std::string(640, '\0')), f, 1 << 20).ok());
}

TEST(ValidateChunkTest, RejectsWithPreciseMessages) {
  const auto f = MakeStreamFormat(v1::PCM16, 16000, 1);
  EXPECT_EQ(ValidateChunk(Chunk(f, std::string(641, '\0')), f, 1 << 20),
            absl::InvalidArgumentError("audio chunk 7: 641 bytes is not a whole number of 2-byte "
                                       "frames (PCM16, 1 channel(s))"));
  EXPECT_EQ(ValidateChunk(Chunk(f, ""), f, 1 << 20),
            absl::InvalidArgumentError("audio chunk 7: data is empty"));
  EXPECT_EQ(ValidateChunk(Chunk(f, std::string(2000, '\0')), f, 1000),
            absl::InvalidArgumentError("audio chunk 7: 2000 bytes exceeds the limit of 1000"));
  EXPECT_EQ(ValidateChunk(Chunk(MakeStreamFormat(v1::PCM16, 8000, 1), "ab"), f, 1000),
            absl::InvalidArgumentError("audio chunk 7: sample_rate 8000 differs from the "
                                       "stream's 16000"));
  EXPECT_EQ(ValidateChunk(Chunk(MakeStreamFormat(v1::FLOAT32, 16000, 1), "abcd"), f, 1000),
            absl::InvalidArgumentError("audio chunk 7: format FLOAT32 differs from the "
                                       "stream's PCM16"));
  EXPECT_EQ(ValidateChunk(Chunk(MakeStreamFormat(v1::PCM16, 16000, 2), "abcd"), f, 1000),
            absl::InvalidArgumentError("audio chunk 7: channels 2 differs from the stream's 1"));
}

TEST(AudioForLogTest, ShortAudioIsWholeBase64) {
  EXPECT_EQ(AudioForLog(std::string("\x00\x01\x02\xff", 4)), "<audio:4B,data:AAEC/w==>");
  EXPECT_EQ(AudioForLog(""), "<audio:0B,data:>");
  // Exactly max_bytes is still whole.
  EXPECT_EQ(AudioForLog("abc", 3), "<audio:3B,data:YWJj>");
}

TEST(AudioForLogTest, LongAudioIsSampled) {
  // 32000 bytes of silence: base64 of the first 100 bytes (136 characters of 'A'), then "...".
  const std::string silence(32000, '\0');
  EXPECT_EQ(AudioForLog(silence), "<audio:32000B,sample:" + std::string(134, 'A') + "==...>");
  EXPECT_EQ(AudioForLog("abcdef", 3), "<audio:6B,sample:YWJj...>");
}

TEST(AudioForLogTest, NeverContainsRawBytes) {
  std::string binary;
  for (int i = 0; i < 256; ++i) binary.push_back(static_cast<char>(i));
  const std::string logged = AudioForLog(binary, 1000);
  for (char c : logged) {
    EXPECT_GE(c, 0x20);
    EXPECT_LT(c, 0x7f);
  }
}

}  // namespace
}  // namespace voxflow
