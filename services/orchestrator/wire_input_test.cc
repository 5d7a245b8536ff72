#include "services/orchestrator/wire_input.h"

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
  WireInput input(MakeStreamFormat(v1::PCM16, 16000, 1), nullptr, 1 << 20);
  absl::StatusOr<std::optional<v1::AudioChunk>> taken =
      input.Take(Chunk(v1::PCM16, 16000, std::string(640, '\1'), 7));
  ASSERT_TRUE(taken.ok()) << taken.status();
  ASSERT_TRUE(taken->has_value());
  EXPECT_EQ((*taken)->data().size(), 640u);
  EXPECT_EQ((*taken)->sequence(), 7u);
}

TEST(WireInputTest, AChunkThatDoesNotFitTheFormatNamesTheField) {
  WireInput input(MakeStreamFormat(v1::PCM16, 16000, 1), nullptr, 1000);
  absl::StatusOr<std::optional<v1::AudioChunk>> taken =
      input.Take(Chunk(v1::PCM16, 8000, std::string(640, '\1'), 1));
  EXPECT_EQ(taken.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(taken.status().message().rfind("audio: ", 0), 0u) << taken.status();
  taken = input.Take(Chunk(v1::PCM16, 16000, std::string(2000, '\1'), 1));
  EXPECT_EQ(taken.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(WireInputTest, OpusIsDecodedRenumberedAndALatePacketGivesNothing) {
  const v1::AudioStreamFormat opus_format = MakeStreamFormat(v1::OPUS, 16000, 1);
  absl::StatusOr<std::unique_ptr<OpusStreamEncoder>> encoder =
      OpusStreamEncoder::Create(opus_format);
  ASSERT_TRUE(encoder.ok()) << encoder.status();
  absl::StatusOr<std::unique_ptr<OpusStreamDecoder>> decoder =
      OpusStreamDecoder::Create(opus_format);
  ASSERT_TRUE(decoder.ok()) << decoder.status();
  WireInput input(opus_format, *std::move(decoder), 1 << 20);

  std::vector<std::string> packets;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::vector<std::string>> encoded = (*encoder)->Encode(std::string(640, '\0'));
    ASSERT_TRUE(encoded.ok()) << encoded.status();
    for (std::string& packet : *encoded) packets.push_back(std::move(packet));
  }
  ASSERT_EQ(packets.size(), 3u);
  // 10, then 12 (11 is concealed on the way), then 11 arrives late.
  for (auto [index, sequence, expect_audio] :
       {std::tuple{0, 10, true}, std::tuple{2, 12, true}, std::tuple{1, 11, false}}) {
    absl::StatusOr<std::optional<v1::AudioChunk>> taken =
        input.Take(Chunk(v1::OPUS, 16000, packets[index], sequence));
    ASSERT_TRUE(taken.ok()) << taken.status();
    ASSERT_EQ(taken->has_value(), expect_audio) << "sequence " << sequence;
    if (!expect_audio) continue;
    EXPECT_EQ((*taken)->format(), v1::PCM16);
    EXPECT_EQ((*taken)->sequence(), sequence == 10 ? 1u : 2u);  // Numbered anew.
  }
}

}  // namespace
}  // namespace voxflow::orchestrator
