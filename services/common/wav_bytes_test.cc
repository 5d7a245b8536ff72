#include "services/common/wav_bytes.h"

#include "gtest/gtest.h"

namespace voxflow {
namespace {

TEST(WavBytesTest, RoundTripsPcm16WithAStandardHeader) {
  std::string pcm;
  for (int i = 0; i < 1600; ++i) {
    const int16_t sample = static_cast<int16_t>((i * 37) % 2000 - 1000);
    pcm.append(reinterpret_cast<const char*>(&sample), 2);
  }
  absl::StatusOr<std::string> wav = EncodeWav(pcm, 16000, 1);
  ASSERT_TRUE(wav.ok()) << wav.status();
  ASSERT_EQ(wav->size(), 44 + pcm.size());  // The canonical RIFF header.
  EXPECT_EQ(wav->substr(0, 4), "RIFF");
  EXPECT_EQ(wav->substr(8, 8), "WAVEfmt ");
  EXPECT_EQ(wav->substr(36, 4), "data");
  absl::StatusOr<DecodedWav> decoded = DecodeWav(*wav);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->sample_rate, 16000);
  EXPECT_EQ(decoded->channels, 1);
  EXPECT_EQ(decoded->pcm, pcm);
}

TEST(WavBytesTest, RefusesWhatIsNotAWav) {
  EXPECT_EQ(DecodeWav("not a wav at all, just words").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace voxflow
