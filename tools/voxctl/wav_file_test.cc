#include "tools/voxctl/wav_file.h"

#include <sndfile.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <vector>

#include "gtest/gtest.h"
#include "services/common/audio_chunk.h"

namespace voxflow::voxctl {
namespace {

v1::AudioStreamFormat Pcm16(int rate, int channels) {
  return MakeStreamFormat(v1::PCM16, rate, channels);
}

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

// A 440 Hz tone, `channels` identical channels.
std::string Tone(int rate, int channels, int ms) {
  std::string pcm;
  const int frames = rate * ms / 1000;
  for (int i = 0; i < frames; ++i) {
    const auto sample = static_cast<int16_t>(8000 * std::sin(2 * M_PI * 440.0 * i / rate));
    for (int c = 0; c < channels; ++c) pcm.append(reinterpret_cast<const char*>(&sample), 2);
  }
  return pcm;
}

TEST(WavFileTest, RoundTripsPcm16) {
  const std::string path = TempPath("round_trip.wav");
  const std::string pcm = Tone(16000, 1, 500);
  ASSERT_TRUE(WriteWavFile(path, pcm, Pcm16(16000, 1)).ok());
  SoundFileInfo info;
  absl::StatusOr<std::string> read = ReadSoundFile(path, Pcm16(16000, 1), &info);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, pcm);
  EXPECT_EQ(info.sample_rate, 16000);
  EXPECT_EQ(info.channels, 1);
  EXPECT_EQ(info.frames, 8000);
}

TEST(WavFileTest, ConvertsRateAndChannels) {
  const std::string path = TempPath("stereo_44k.wav");
  ASSERT_TRUE(WriteWavFile(path, Tone(44100, 2, 1000), Pcm16(44100, 2)).ok());
  absl::StatusOr<std::string> read = ReadSoundFile(path, Pcm16(16000, 1));
  ASSERT_TRUE(read.ok()) << read.status();
  // One second of 16 kHz mono, give or take the resampler's rounding.
  EXPECT_NEAR(static_cast<double>(read->size()), 32000, 64);
  // Still a loud tone: downmixing identical channels keeps the level.
  double sum = 0;
  const auto* samples = reinterpret_cast<const int16_t*>(read->data());
  const size_t n = read->size() / 2;
  for (size_t i = n / 4; i < 3 * n / 4; ++i) sum += double(samples[i]) * samples[i];
  EXPECT_NEAR(std::sqrt(sum / (n / 2)), 8000 / std::sqrt(2.0), 300);
}

TEST(WavFileTest, MissingFileIsNotFound) {
  absl::StatusOr<std::string> read = ReadSoundFile(TempPath("nope.wav"), Pcm16(16000, 1));
  EXPECT_EQ(read.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(read.status().message().find("nope.wav: no such file"), absl::string_view::npos);
}

TEST(WavFileTest, TextFileIsNotASoundFile) {
  const std::string path = TempPath("notes.wav");
  std::ofstream(path) << "these are not samples\n";
  absl::StatusOr<std::string> read = ReadSoundFile(path, Pcm16(16000, 1));
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(read.status().message().find("notes.wav: not a sound file"), absl::string_view::npos)
      << read.status();
}

TEST(WavFileTest, DirectoryAndEmptyFileAreRejected) {
  const char* dir = std::getenv("TEST_TMPDIR");
  EXPECT_EQ(ReadSoundFile(dir != nullptr ? dir : "/tmp", Pcm16(16000, 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::string path = TempPath("empty.wav");
  ASSERT_TRUE(WriteWavFile(path, "", Pcm16(16000, 1)).ok());
  absl::StatusOr<std::string> read = ReadSoundFile(path, Pcm16(16000, 1));
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(read.status().message().find("holds no audio"), absl::string_view::npos);
}

TEST(WavFileTest, UnwritablePathSaysSo) {
  absl::Status s = WriteWavFile("/nonexistent-dir/x.wav", Tone(16000, 1, 10), Pcm16(16000, 1));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("/nonexistent-dir/x.wav: cannot write"), absl::string_view::npos);
}

}  // namespace
}  // namespace voxflow::voxctl
