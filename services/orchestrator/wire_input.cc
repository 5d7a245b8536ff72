#include "services/orchestrator/wire_input.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/audio_chunk.h"

namespace voxflow::orchestrator {

WireInput::WireInput(v1::AudioStreamFormat format, std::unique_ptr<OpusStreamDecoder> opus,
                     size_t max_chunk_bytes, double reorder_wait_ms)
    : format_(std::move(format)),
      opus_(std::move(opus)),
      max_chunk_bytes_(max_chunk_bytes),
      reorder_(reorder_wait_ms) {}

absl::StatusOr<std::vector<v1::AudioChunk>> WireInput::Take(v1::AudioChunk chunk) {
  if (absl::Status s = ValidateChunk(chunk, format_, max_chunk_bytes_); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("audio: ", s.message()));
  }
  std::vector<v1::AudioChunk> out;
  if (opus_ == nullptr) {
    out.push_back(std::move(chunk));
    return out;
  }
  // A packet that is not Opus is refused as it arrives, not when its turn to decode comes.
  absl::StatusOr<double> ms = opus_->PacketMs(chunk.data(), chunk.sequence());
  if (!ms.ok()) return absl::InvalidArgumentError(absl::StrCat("audio: ", ms.status().message()));
  for (streaming::SequencedPacket& packet :
       reorder_.Push({chunk.sequence(), std::move(*chunk.mutable_data()), *ms})) {
    absl::StatusOr<v1::AudioChunk> decoded = Decode(std::move(packet));
    if (!decoded.ok()) return decoded.status();
    out.push_back(*std::move(decoded));
  }
  return out;
}

std::vector<v1::AudioChunk> WireInput::Flush() {
  std::vector<v1::AudioChunk> out;
  if (opus_ == nullptr) return out;
  for (streaming::SequencedPacket& packet : reorder_.Flush()) {
    // Each was checked on arrival; one that still fails to decode is dropped with the stream's
    // end rather than ending it.
    absl::StatusOr<v1::AudioChunk> decoded = Decode(std::move(packet));
    if (decoded.ok()) out.push_back(*std::move(decoded));
  }
  return out;
}

absl::StatusOr<v1::AudioChunk> WireInput::Decode(streaming::SequencedPacket packet) {
  absl::StatusOr<std::string> pcm = opus_->Decode(packet.data, packet.sequence);
  if (!pcm.ok()) return absl::InvalidArgumentError(absl::StrCat("audio: ", pcm.status().message()));
  v1::AudioChunk chunk;
  chunk.set_data(*std::move(pcm));
  chunk.set_format(v1::PCM16);
  chunk.set_sample_rate(format_.sample_rate());
  chunk.set_channels(format_.channels());
  chunk.set_sequence(++decoded_sequence_);
  return chunk;
}

WireInputStats WireInput::stats() const {
  WireInputStats stats;
  if (opus_ == nullptr) return stats;
  const streaming::PacketReorderStats& reorder = reorder_.stats();
  stats.reordered = reorder.reordered;
  stats.duplicate = reorder.duplicate;
  stats.late = reorder.late + opus_->late_packets();
  stats.lost = reorder.lost;
  stats.concealed_ms = static_cast<double>(opus_->concealed_ms());
  return stats;
}

}  // namespace voxflow::orchestrator
