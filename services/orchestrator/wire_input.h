// WireInput: the caller's audio as it arrives, checked against the session's input format and
// made into what the listener hears: OPUS packets decoded to PCM16 (the decoder conceals
// sequence gaps and drops late packets) and numbered anew; PCM as it came. Used on the stream's
// strand only.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_WIRE_INPUT_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_WIRE_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "services/common/opus_codec.h"
#include "voxflow/v1/orchestrator.pb.h"

namespace voxflow::orchestrator {

class WireInput {
 public:
  // `opus`: the decoder when `format` is OPUS; null otherwise.
  WireInput(v1::AudioStreamFormat format, std::unique_ptr<OpusStreamDecoder> opus,
            size_t max_chunk_bytes);

  // The chunk to listen to; none for a late Opus packet; INVALID_ARGUMENT naming the field
  // ("audio: ...") for a chunk that does not fit the format.
  absl::StatusOr<std::optional<v1::AudioChunk>> Take(v1::AudioChunk chunk);

 private:
  const v1::AudioStreamFormat format_;
  const std::unique_ptr<OpusStreamDecoder> opus_;
  const size_t max_chunk_bytes_;
  uint64_t decoded_sequence_ = 0;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_WIRE_INPUT_H_
