#include "services/orchestrator/wire_input.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/audio_chunk.h"

namespace voxflow::orchestrator {

WireInput::WireInput(v1::AudioStreamFormat format, std::unique_ptr<OpusStreamDecoder> opus,
                     size_t max_chunk_bytes)
    : format_(std::move(format)), opus_(std::move(opus)), max_chunk_bytes_(max_chunk_bytes) {}

absl::StatusOr<std::optional<v1::AudioChunk>> WireInput::Take(v1::AudioChunk chunk) {
  if (absl::Status s = ValidateChunk(chunk, format_, max_chunk_bytes_); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("audio: ", s.message()));
  }
  if (opus_ == nullptr) return chunk;
  absl::StatusOr<std::string> pcm = opus_->Decode(chunk.data(), chunk.sequence());
  if (!pcm.ok()) return absl::InvalidArgumentError(absl::StrCat("audio: ", pcm.status().message()));
  if (pcm->empty()) return std::nullopt;  // Late: its place was concealed already.
  chunk.set_data(*std::move(pcm));
  chunk.set_format(v1::PCM16);
  chunk.set_sequence(++decoded_sequence_);
  return chunk;
}

}  // namespace voxflow::orchestrator
