// WireInput: the caller's audio as it arrives, checked against the session's input format and
// made into what the listener hears. OPUS packets are put back in sequence order first (a
// packet overtaken by later ones waits for its place; a missing one is given up once
// `reorder_wait_ms` of audio waits behind it, and concealed), then decoded to PCM16 and numbered
// anew; PCM passes as it came (the listener's jitter buffer orders it). Used on the stream's
// strand only.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_WIRE_INPUT_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_WIRE_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "services/common/opus_codec.h"
#include "services/common/streaming/jitter_buffer.h"
#include "services/common/streaming/packet_reorder.h"
#include "voxflow/v1/orchestrator.pb.h"

namespace voxflow::orchestrator {

// What happened to the input before the listener: Opus packets reordered, duplicated, late,
// lost, and the audio concealed for them. All zero for PCM.
struct WireInputStats {
  int64_t reordered = 0;
  int64_t duplicate = 0;
  int64_t late = 0;
  int64_t lost = 0;
  double concealed_ms = 0;

  // Adds these to the listener's jitter-buffer counts: what the caller's network did, in all.
  void AddTo(streaming::JitterBufferStats& stats) const {
    stats.reordered += reordered;
    stats.duplicate += duplicate;
    stats.late += late;
    stats.lost += lost;
    stats.concealed_ms += concealed_ms;
  }
};

// How much audio may wait behind a missing Opus packet: the input jitter buffer's target, and
// at least 100 ms (network jitter of +-40 ms reorders 20 ms packets up to four places).
inline double OpusReorderWaitMs(int input_target_ms) {
  return input_target_ms > 100 ? input_target_ms : 100;
}

class WireInput {
 public:
  // `opus`: the decoder when `format` is OPUS; null otherwise.
  WireInput(v1::AudioStreamFormat format, std::unique_ptr<OpusStreamDecoder> opus,
            size_t max_chunk_bytes, double reorder_wait_ms);

  // The chunks to listen to, in order: none while an Opus packet waits for one before it;
  // INVALID_ARGUMENT naming the field ("audio: ...") for a chunk that does not fit the format.
  absl::StatusOr<std::vector<v1::AudioChunk>> Take(v1::AudioChunk chunk);
  // The end of the input: the Opus packets still waiting, decoded.
  std::vector<v1::AudioChunk> Flush();

  WireInputStats stats() const;

 private:
  absl::StatusOr<v1::AudioChunk> Decode(streaming::SequencedPacket packet);

  const v1::AudioStreamFormat format_;
  const std::unique_ptr<OpusStreamDecoder> opus_;
  const size_t max_chunk_bytes_;
  streaming::PacketReorder reorder_;
  uint64_t decoded_sequence_ = 0;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_WIRE_INPUT_H_
