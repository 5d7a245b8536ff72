#include "services/orchestrator/listening/echo_delay.h"

#include <cmath>
#include <cstdlib>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace voxflow::orchestrator {
namespace {

constexpr size_t kBlock = 160;  // 10 ms at 16 kHz.

// Speech-like bursts: a tone switched on and off at random (100-300 ms each), seeded.
std::vector<int16_t> Bursts(size_t blocks, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> length(10, 30);
  std::vector<int16_t> out(blocks * kBlock, 0);
  bool on = false;
  size_t at = 0;
  while (at < out.size()) {
    const size_t end = std::min(out.size(), at + kBlock * static_cast<size_t>(length(rng)));
    for (; at < end; ++at) {
      if (on) out[at] = static_cast<int16_t>(8000 * std::sin(2 * M_PI * 220 * at / 16000.0));
    }
    on = !on;
  }
  return out;
}

// `signal` `delay_blocks` later and 10 dB down, over faint noise.
std::vector<int16_t> Echo(const std::vector<int16_t>& signal, size_t delay_blocks) {
  std::mt19937 rng(9);
  std::normal_distribution<float> noise(0, 20);
  std::vector<int16_t> out(signal.size());
  for (size_t i = 0; i < out.size(); ++i) {
    const float echo = i >= delay_blocks * kBlock ? 0.316f * signal[i - delay_blocks * kBlock] : 0;
    out[i] = static_cast<int16_t>(echo + noise(rng));
  }
  return out;
}

TEST(EchoDelayTest, FindsHowMuchLaterTheReplyComesBack) {
  const std::vector<int16_t> reply = Bursts(400, 1);
  const std::vector<int16_t> mic = Echo(reply, 17);
  EchoDelay delay;
  for (size_t b = 0; b < 400; ++b) delay.Push(&reply[b * kBlock], &mic[b * kBlock], kBlock);
  EXPECT_TRUE(delay.found());
  EXPECT_TRUE(delay.looked());
  EXPECT_EQ(delay.delay_ms(), 170);
  EXPECT_GT(delay.confidence(), 0.8);
}

TEST(EchoDelayTest, AHeadsetCallerListeningIsNoEcho) {
  // The caller's microphone hears the room, not the reply. (Not covered: a caller talking over the
  // reply for seconds on end can line up with it by chance, and AUTO then engages needlessly.)
  const std::vector<int16_t> reply = Bursts(400, 1);
  const std::vector<int16_t> room = Echo(std::vector<int16_t>(reply.size(), 0), 0);
  EchoDelay delay;
  for (size_t b = 0; b < 400; ++b) delay.Push(&reply[b * kBlock], &room[b * kBlock], kBlock);
  EXPECT_TRUE(delay.looked()) << "the reply spoke long enough to look";
  EXPECT_FALSE(delay.found()) << "confidence " << delay.confidence();
}

TEST(EchoDelayTest, TheCallersQuestionBeforeTheReplyDoesNotHideItsEcho) {
  // Two seconds of the caller alone, then the reply and its echo 120 ms later: found within the
  // reply's first second.
  const std::vector<int16_t> question = Bursts(200, 3);
  const std::vector<int16_t> reply = Bursts(100, 4);
  const std::vector<int16_t> echo = Echo(reply, 12);
  const std::vector<int16_t> silence(kBlock, 0);
  EchoDelay delay;
  for (size_t b = 0; b < 200; ++b) delay.Push(silence.data(), &question[b * kBlock], kBlock);
  for (size_t b = 0; b < 100; ++b) delay.Push(&reply[b * kBlock], &echo[b * kBlock], kBlock);
  EXPECT_TRUE(delay.found());
  EXPECT_EQ(delay.delay_ms(), 120);
}

TEST(EchoDelayTest, ACallerWhoStartsTalkingIntoTheReplyIsNoEcho) {
  // A flat reply (a tone, as the mock engine speaks) and, 600 ms after it began, the caller's own
  // voice (no echo at all): the two onsets line up at the end of the search range.
  std::vector<int16_t> reply(250 * kBlock, 0), mic(250 * kBlock, 0);
  for (size_t i = 0; i < reply.size(); ++i) {
    if (i >= 150 * kBlock)
      reply[i] = static_cast<int16_t>(8000 * std::sin(2 * M_PI * 220 * i / 16000.0));
    if (i >= 210 * kBlock)
      mic[i] = static_cast<int16_t>(3000 * std::sin(2 * M_PI * 150 * i / 16000.0));
  }
  EchoDelay delay;
  for (size_t b = 0; b < 250; ++b) delay.Push(&reply[b * kBlock], &mic[b * kBlock], kBlock);
  EXPECT_FALSE(delay.found()) << "delay " << delay.delay_ms() << " ms, confidence "
                              << delay.confidence();
}

TEST(NoiseFloorTest, IsTheQuietestStretchOfTheLastSeconds) {
  NoiseFloor floor;
  for (int i = 0; i < 200; ++i) floor.Push(1000);  // Steady noise.
  for (int i = 0; i < 100; ++i) floor.Push(1e6);   // The caller speaks for a second.
  EXPECT_NEAR(floor.block_energy(), 1250, 1);      // A little over the noise (1 dB).
  for (int i = 0; i < 500; ++i) floor.Push(1e6);   // Five seconds of speech: that is the floor now.
  EXPECT_NEAR(floor.block_energy(), 1.25e6, 1e3);
}

// How far a room rises over its mean sets how far over its floor a caller's voice must be.
TEST(NoiseFloorTest, SwingIsHowFarTheRoomRisesOverItsMean) {
  NoiseFloor floor;
  EXPECT_EQ(floor.swing(), 1) << "nothing heard yet";
  for (int i = 0; i < 100; ++i) floor.Push(1000);
  EXPECT_DOUBLE_EQ(floor.swing(), 1) << "steady noise";
  NoiseFloor swelling;
  for (int i = 0; i < 100; ++i) swelling.Push(i % 2 ? 3000 : 1000);
  EXPECT_DOUBLE_EQ(swelling.swing(), 1.5) << "loudest 3000 over a mean of 2000";
  for (int i = 0; i < 20; ++i) swelling.Push(1e6);  // Speech in two windows is not the room.
  EXPECT_DOUBLE_EQ(swelling.swing(), 1.5);
}

}  // namespace
}  // namespace voxflow::orchestrator
