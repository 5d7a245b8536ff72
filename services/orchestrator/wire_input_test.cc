#include "services/orchestrator/wire_input.h"

#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "services/common/audio_chunk.h"
#include "services/common/opus_codec.h"

namespace voxflow::orchestrator {
namespace {

v1::AudioChunk Chunk(v1::AudioFormat format, int rate, std::string data, uint64_t sequence) {
  v1::AudioChunk chunk;
  chunk.set_format(format);
  chunk.set_sample_rate(rate);
  chunk.set_channels(1);
  chunk.set_data(std::move(data));
  chunk.set_sequence(sequence);
  return chunk;
}

TEST(WireInputTest, PcmPassesAsItCame) {
  WireInput input(MakeStreamFormat(v1::PCM16, 16000, 1), nullptr, 1 << 20, 100);
  absl::StatusOr<std::vector<v1::AudioChunk>> taken =
      input.Take(Chunk(v1::PCM16, 16000, std::string(640, '\1'), 7));
  ASSERT_TRUE(taken.ok()) << taken.status();
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_EQ((*taken)[0].data().size(), 640u);
  EXPECT_EQ((*taken)[0].sequence(), 7u);
  taken = input.Take(Chunk(v1::PCM16, 16000, std::string(640, '\1'), 5));
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_EQ(taken->size(), 1u);  // The listener's jitter buffer orders PCM.
  EXPECT_TRUE(input.Flush().empty());
}

TEST(WireInputTest, AChunkThatDoesNotFitTheFormatNamesTheField) {
  WireInput input(MakeStreamFormat(v1::PCM16, 16000, 1), nullptr, 1000, 100);
  absl::StatusOr<std::vector<v1::AudioChunk>> taken =
      input.Take(Chunk(v1::PCM16, 8000, std::string(640, '\1'), 1));
  EXPECT_EQ(taken.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(taken.status().message().rfind("audio: ", 0), 0u) << taken.status();
  taken = input.Take(Chunk(v1::PCM16, 16000, std::string(2000, '\1'), 1));
  EXPECT_EQ(taken.status().code(), absl::StatusCode::kInvalidArgument);
}

class OpusWireInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<OpusStreamEncoder>> encoder = OpusStreamEncoder::Create(format_);
    ASSERT_TRUE(encoder.ok()) << encoder.status();
    for (int i = 0; i < 12; ++i) {
      // A tone, so that concealment and decoding give different audio.
      std::string pcm(640, '\0');
      for (int n = 0; n < 320; ++n) {
        const int16_t v = static_cast<int16_t>((n % 16 < 8 ? 1 : -1) * 3000);
        std::memcpy(pcm.data() + 2 * n, &v, 2);
      }
      absl::StatusOr<std::vector<std::string>> encoded = (*encoder)->Encode(pcm);
      ASSERT_TRUE(encoded.ok()) << encoded.status();
      for (std::string& packet : *encoded) packets_.push_back(std::move(packet));
    }
    ASSERT_EQ(packets_.size(), 12u);
  }
  std::unique_ptr<WireInput> NewInput() {
    absl::StatusOr<std::unique_ptr<OpusStreamDecoder>> decoder = OpusStreamDecoder::Create(format_);
    EXPECT_TRUE(decoder.ok()) << decoder.status();
    return std::make_unique<WireInput>(format_, *std::move(decoder), 1 << 20,
                                       OpusReorderWaitMs(40));
  }
  // Sends packet `index` as sequence index + 1; returns the PCM bytes that came out.
  size_t Send(WireInput& input, int index) {
    absl::StatusOr<std::vector<v1::AudioChunk>> taken =
        input.Take(Chunk(v1::OPUS, 16000, packets_[index], index + 1));
    EXPECT_TRUE(taken.ok()) << taken.status();
    size_t bytes = 0;
    for (const v1::AudioChunk& chunk : taken.value_or(std::vector<v1::AudioChunk>{})) {
      EXPECT_EQ(chunk.format(), v1::PCM16);
      EXPECT_EQ(chunk.sequence(), ++decoded_);  // Numbered anew, in order.
      bytes += chunk.data().size();
    }
    return bytes;
  }

  const v1::AudioStreamFormat format_ = MakeStreamFormat(v1::OPUS, 16000, 1);
  std::vector<std::string> packets_;
  uint64_t decoded_ = 0;
};

// Reordered within the wait: every packet is decoded once, in its place; nothing concealed.
TEST_F(OpusWireInputTest, APacketOvertakenByLaterOnesIsDecodedInItsPlace) {
  std::unique_ptr<WireInput> input = NewInput();
  size_t bytes = 0;
  for (int index : {0, 1, 2, 3, 4, 6, 7, 5, 8, 9, 10, 11}) bytes += Send(*input, index);
  for (const v1::AudioChunk& chunk : input->Flush()) {
    EXPECT_EQ(chunk.sequence(), ++decoded_);
    bytes += chunk.data().size();
  }
  EXPECT_EQ(bytes, 12u * 640u);
  const WireInputStats stats = input->stats();
  EXPECT_EQ(stats.reordered, 1);
  EXPECT_EQ(stats.lost, 0);
  EXPECT_EQ(stats.late, 0);
  EXPECT_EQ(stats.concealed_ms, 0);
}

// A packet that never comes is given up once 100 ms of audio waits behind it, and concealed;
// when it comes after all, it is late and gives nothing.
TEST_F(OpusWireInputTest, ALostPacketIsConcealedAndCountedAndALateOneGivesNothing) {
  std::unique_ptr<WireInput> input = NewInput();
  size_t bytes = 0;
  for (int index : {0, 1, 2, 3, 4}) bytes += Send(*input, index);  // The start: 100 ms.
  EXPECT_EQ(bytes, 5u * 640u);
  for (int index : {6, 7, 8, 9}) EXPECT_EQ(Send(*input, index), 0u);  // 5 is missing.
  bytes += Send(*input, 10);     // 100 ms waits behind the gap: given up.
  EXPECT_EQ(bytes, 11u * 640u);  // The concealment stands in for 5.
  EXPECT_EQ(Send(*input, 5), 0u);
  const WireInputStats stats = input->stats();
  EXPECT_EQ(stats.lost, 1);
  EXPECT_EQ(stats.late, 1);
  EXPECT_EQ(stats.concealed_ms, 20);
}

TEST_F(OpusWireInputTest, BytesThatAreNotOpusAreRefusedOnArrivalNamingTheChunk) {
  std::unique_ptr<WireInput> input = NewInput();
  absl::StatusOr<std::vector<v1::AudioChunk>> taken =
      input->Take(Chunk(v1::OPUS, 16000, std::string("\xff\xff\xff", 3), 4));
  EXPECT_EQ(taken.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(taken.status().message().find("audio: audio chunk 4"), std::string::npos)
      << taken.status();
}

}  // namespace
}  // namespace voxflow::orchestrator
