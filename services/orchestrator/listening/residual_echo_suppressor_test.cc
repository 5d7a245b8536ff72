#include "services/orchestrator/listening/residual_echo_suppressor.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace voxflow::orchestrator {
namespace {

constexpr size_t kBlock = 160;  // 10 ms at 16 kHz.

// A 10 ms block of a 300 Hz tone at `dbfs`.
std::vector<int16_t> Tone(double dbfs, double hz = 300) {
  std::vector<int16_t> block(kBlock);
  const double amplitude = 32767 * std::sqrt(2.0) * std::pow(10, dbfs / 20);
  for (size_t i = 0; i < kBlock; ++i) {
    block[i] = static_cast<int16_t>(std::lround(amplitude * std::sin(2 * M_PI * hz * i / 16000)));
  }
  return block;
}

TEST(ResidualEchoSuppressorTest, TurnsDownWhatIsQuieterThanTheRepliesEchoCouldBe) {
  ResidualEchoSuppressor suppressor;
  const std::vector<int16_t> reply = Tone(-12);
  // The reply's echo 8 dB down (more than the 6 dB assumed), before the canceller has a figure.
  std::vector<int16_t> echo = Tone(-20, 310);
  EXPECT_TRUE(suppressor.Process(reply.data(), echo.data(), kBlock, -1));
  EXPECT_LT(BlockDb(echo.data(), kBlock), BlockDb(Tone(-49).data(), kBlock));
  // A caller as loud as the reply is not echo.
  std::vector<int16_t> caller = Tone(-12, 200);
  const std::vector<int16_t> heard = caller;
  EXPECT_FALSE(suppressor.Process(reply.data(), caller.data(), kBlock, -1));
  EXPECT_EQ(caller, heard);
  EXPECT_EQ(suppressor.suppressed_blocks(), 1u);
}

TEST(ResidualEchoSuppressorTest, RemembersTheReplyForTheLongestEchoDelay) {
  ResidualEchoSuppressor suppressor;
  const std::vector<int16_t> reply = Tone(-12), silence(kBlock, 0);
  std::vector<int16_t> quiet(kBlock, 0);
  suppressor.Process(reply.data(), quiet.data(), kBlock, -1);
  // 490 ms after the reply stopped its echo may still come.
  for (int i = 0; i < 48; ++i) suppressor.Process(silence.data(), quiet.data(), kBlock, -1);
  std::vector<int16_t> echo = Tone(-20);
  EXPECT_TRUE(suppressor.Process(silence.data(), echo.data(), kBlock, -1));
  // 500 ms after, it cannot: the caller is heard whatever their level.
  std::vector<int16_t> soft = Tone(-40);
  EXPECT_FALSE(suppressor.Process(silence.data(), soft.data(), kBlock, -1));
}

TEST(ResidualEchoSuppressorTest, OnceTheCancellerHasConvergedASofterCallerGoesThrough) {
  const std::vector<int16_t> reply = Tone(-12);
  // A caller 15 dB under the reply, over it.
  ResidualEchoSuppressor before, after;
  std::vector<int16_t> caller = Tone(-27, 200);
  EXPECT_TRUE(before.Process(reply.data(), caller.data(), kBlock, -1));
  caller = Tone(-27, 200);
  // The echo comes back 10 dB down and the canceller takes 25 dB more off it.
  EXPECT_FALSE(after.Process(reply.data(), caller.data(), kBlock, 35));
  // What is left of the echo itself (40 dB under the reply) is still taken out.
  std::vector<int16_t> residue = Tone(-52);
  EXPECT_TRUE(after.Process(reply.data(), residue.data(), kBlock, 35));
}

TEST(ResidualEchoSuppressorTest, NothingIsSuppressedWithoutAnEcho) {
  ResidualEchoSuppressor suppressor;
  const std::vector<int16_t> reply = Tone(-12);
  std::vector<int16_t> quiet = Tone(-60);
  const std::vector<int16_t> heard = quiet;
  EXPECT_FALSE(
      suppressor.Process(reply.data(), quiet.data(), kBlock, ResidualEchoSuppressor::kNoEchoDb));
  EXPECT_EQ(quiet, heard);
}

TEST(ResidualEchoSuppressorTest, NothingIsSuppressedWhileTheReplyIsSilent) {
  ResidualEchoSuppressor suppressor;
  const std::vector<int16_t> silence(kBlock, 0);
  std::vector<int16_t> soft = Tone(-50);
  EXPECT_FALSE(suppressor.Process(silence.data(), soft.data(), kBlock, -1));
  EXPECT_EQ(suppressor.suppressed_blocks(), 0u);
}

}  // namespace
}  // namespace voxflow::orchestrator
