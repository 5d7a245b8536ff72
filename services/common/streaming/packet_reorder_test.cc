#include "services/common/streaming/packet_reorder.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace voxflow::streaming {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

SequencedPacket Packet(uint64_t sequence) { return {sequence, "p" + std::to_string(sequence), 20}; }

std::vector<uint64_t> Sequences(const std::vector<SequencedPacket>& packets) {
  std::vector<uint64_t> out;
  for (const SequencedPacket& p : packets) {
    out.push_back(p.sequence);
    EXPECT_EQ(p.data, "p" + std::to_string(p.sequence));
  }
  return out;
}

// The start: the first packets wait until max_wait_ms of audio is in (one may still be
// overtaken), then come out from the lowest.
PacketReorder Started(uint64_t first) {
  PacketReorder reorder(60);
  EXPECT_THAT(reorder.Push(Packet(first + 1)), IsEmpty());
  EXPECT_THAT(reorder.Push(Packet(first)), IsEmpty());
  EXPECT_THAT(Sequences(reorder.Push(Packet(first + 2))), ElementsAre(first, first + 1, first + 2));
  return reorder;
}

TEST(PacketReorderTest, TheStreamStartsAtTheLowestOfItsFirstPackets) {
  PacketReorder reorder = Started(10);
  EXPECT_EQ(reorder.stats().reordered, 1);
  EXPECT_EQ(reorder.stats().lost, 0);
}

TEST(PacketReorderTest, InOrderPacketsPassAtOnce) {
  PacketReorder reorder = Started(10);
  for (uint64_t s = 13; s < 20; ++s) {
    EXPECT_THAT(Sequences(reorder.Push(Packet(s))), ElementsAre(s));
  }
  EXPECT_EQ(reorder.stats().reordered, 1);  // At the start only.
  EXPECT_EQ(reorder.stats().lost, 0);
}

TEST(PacketReorderTest, APacketOvertakenByLaterOnesGoesBackInItsPlace) {
  PacketReorder reorder = Started(1);               // 1, 2, 3 out.
  EXPECT_THAT(reorder.Push(Packet(5)), IsEmpty());  // 4 is missing: wait.
  EXPECT_THAT(reorder.Push(Packet(6)), IsEmpty());
  EXPECT_THAT(Sequences(reorder.Push(Packet(4))), ElementsAre(4, 5, 6));
  EXPECT_EQ(reorder.stats().reordered, 2);  // 1 at the start, and 4.
  EXPECT_EQ(reorder.stats().lost, 0);
  EXPECT_EQ(reorder.stats().late, 0);
}

TEST(PacketReorderTest, AGapIsGivenUpOnceMaxWaitOfAudioWaitsBehindIt) {
  PacketReorder reorder = Started(1);  // Waits while less than three 20 ms packets wait.
  EXPECT_THAT(reorder.Push(Packet(5)), IsEmpty());
  EXPECT_THAT(reorder.Push(Packet(6)), IsEmpty());
  EXPECT_THAT(Sequences(reorder.Push(Packet(7))), ElementsAre(5, 6, 7));
  EXPECT_EQ(reorder.stats().lost, 1);
  EXPECT_THAT(reorder.Push(Packet(4)), IsEmpty());  // Its place is passed.
  EXPECT_EQ(reorder.stats().late, 1);
  EXPECT_THAT(Sequences(reorder.Push(Packet(8))), ElementsAre(8));
}

TEST(PacketReorderTest, DuplicatesAndUnnumberedPackets) {
  PacketReorder reorder = Started(1);
  EXPECT_THAT(reorder.Push(Packet(5)), IsEmpty());
  EXPECT_THAT(reorder.Push(Packet(5)), IsEmpty());  // Waiting already.
  EXPECT_THAT(reorder.Push(Packet(2)), IsEmpty());  // Passed already.
  EXPECT_EQ(reorder.stats().duplicate, 1);
  EXPECT_EQ(reorder.stats().late, 1);
  PacketReorder unnumbered(60);
  EXPECT_THAT(Sequences(unnumbered.Push(Packet(0))), ElementsAre(0));
  EXPECT_THAT(Sequences(unnumbered.Push(Packet(0))), ElementsAre(0));
}

TEST(PacketReorderTest, FlushGivesWhatWaitsInOrderAndCountsTheGaps) {
  PacketReorder reorder(1000);
  EXPECT_THAT(reorder.Push(Packet(1)), IsEmpty());  // The start is not known yet.
  EXPECT_THAT(reorder.Push(Packet(5)), IsEmpty());
  EXPECT_THAT(reorder.Push(Packet(3)), IsEmpty());
  EXPECT_THAT(Sequences(reorder.Flush()), ElementsAre(1, 3, 5));
  EXPECT_EQ(reorder.stats().lost, 2);  // 2 and 4.
  EXPECT_THAT(reorder.Flush(), IsEmpty());
}

// Jitter of +-40 ms on 20 ms packets (seeded): every packet is delivered once, in order, when
// the wait covers the jitter.
TEST(PacketReorderTest, JitterWithinTheWaitLosesNothing) {
  std::mt19937 random(26);
  std::uniform_real_distribution<double> jitter(-40, 40);
  std::vector<std::pair<double, uint64_t>> arrivals;
  for (uint64_t s = 1; s <= 750; ++s) arrivals.emplace_back(s * 20.0 + jitter(random), s);
  std::sort(arrivals.begin(), arrivals.end());
  PacketReorder reorder(100);
  std::vector<uint64_t> delivered;
  for (const auto& [at, s] : arrivals) {
    for (uint64_t d : Sequences(reorder.Push(Packet(s)))) delivered.push_back(d);
  }
  for (uint64_t d : Sequences(reorder.Flush())) delivered.push_back(d);
  ASSERT_EQ(delivered.size(), 750u);
  for (size_t i = 0; i < delivered.size(); ++i) ASSERT_EQ(delivered[i], i + 1);
  EXPECT_GT(reorder.stats().reordered, 100);  // The jitter did reorder them.
  EXPECT_EQ(reorder.stats().lost, 0);
  EXPECT_EQ(reorder.stats().late, 0);
}

}  // namespace
}  // namespace voxflow::streaming
