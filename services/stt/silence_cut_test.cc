#include "services/stt/silence_cut.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace voxflow::stt {
namespace {

std::string Pcm(const std::vector<int16_t>& samples) {
  return std::string(reinterpret_cast<const char*>(samples.data()), samples.size() * 2);
}

TEST(QuietestCutTest, CutsInTheQuietGapOfTheSecondHalf) {
  const int rate = 16000;
  std::vector<int16_t> samples(rate * 2);  // 2 s of a tone with a gap at 1.5 s.
  for (size_t i = 0; i < samples.size(); ++i) {
    samples[i] = static_cast<int16_t>(8000 * std::sin(i * 0.1));
  }
  for (size_t i = rate * 3 / 2; i < rate * 3 / 2 + rate / 10; ++i) samples[i] = 0;
  const size_t cut = QuietestCut(Pcm(samples), rate);
  EXPECT_EQ(cut % 2, 0u);
  EXPECT_GE(cut / 2, static_cast<size_t>(rate * 3 / 2));
  EXPECT_LE(cut / 2, static_cast<size_t>(rate * 3 / 2 + rate / 10));
}

TEST(QuietestCutTest, NeverCutsInTheFirstHalfNorAtZero) {
  const int rate = 16000;
  std::vector<int16_t> samples(rate, 5000);
  for (size_t i = 0; i < 1600; ++i) samples[i] = 0;  // Quiet only at the start.
  const size_t cut = QuietestCut(Pcm(samples), rate);
  EXPECT_GE(cut, samples.size());  // In bytes: at least half of the audio stays in front.
  EXPECT_GT(QuietestCut(Pcm({1, 2}), rate), 0u);
}

}  // namespace
}  // namespace voxflow::stt
