// Opus (libopus) for AudioFormat.OPUS: one packet per AudioChunk, as audio.proto says. Streams
// decode to PCM16 at their own rate and channels on the way in, and reply audio is encoded in
// 20 ms packets on the way out; everything between (jitter buffers, voice activity detection,
// resampling, the engines) sees PCM16.
#ifndef VOXFLOW_SERVICES_COMMON_OPUS_CODEC_H_
#define VOXFLOW_SERVICES_COMMON_OPUS_CODEC_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "voxflow/v1/audio.pb.h"

struct OpusDecoder;
struct OpusEncoder;

namespace voxflow {

// OK for a rate and channel count Opus codes (8, 12, 16, 24 or 48 kHz; mono or stereo);
// INVALID_ARGUMENT naming `field` otherwise.
absl::Status ValidateOpusFormat(const v1::AudioStreamFormat& format, absl::string_view field);

// ValidateStreamFormat for sample formats, ValidateOpusFormat for OPUS: the formats a stream may
// arrive or leave in.
absl::Status ValidateWireFormat(const v1::AudioStreamFormat& format, absl::string_view field);

// The format a stream of `format` is handled in: PCM16 at the same rate and channels for OPUS,
// `format` itself otherwise.
v1::AudioStreamFormat DecodedFormat(const v1::AudioStreamFormat& format);

class OpusStreamDecoder {
 public:
  // Concealment for a sequence gap is bounded: beyond it the gap is a new stream position.
  static constexpr int kMaxConcealedMs = 200;

  static absl::StatusOr<std::unique_ptr<OpusStreamDecoder>> Create(
      const v1::AudioStreamFormat& format);
  ~OpusStreamDecoder();
  OpusStreamDecoder(const OpusStreamDecoder&) = delete;
  OpusStreamDecoder& operator=(const OpusStreamDecoder&) = delete;

  // PCM16 for `packet`, chunk `sequence` (0: no sequence numbers). Chunks missing since the last
  // one are concealed first with Opus's packet loss concealment; a chunk at or before the last
  // one decoded is late and gives no audio. INVALID_ARGUMENT naming the chunk for bytes that are
  // not an Opus packet.
  absl::StatusOr<std::string> Decode(absl::string_view packet, uint64_t sequence);
  // The duration of `packet` without decoding it; the same INVALID_ARGUMENT as Decode.
  absl::StatusOr<double> PacketMs(absl::string_view packet, uint64_t sequence) const;

  int64_t concealed_ms() const { return concealed_ms_; }
  int64_t late_packets() const { return late_packets_; }

 private:
  OpusStreamDecoder(OpusDecoder* decoder, int sample_rate, int channels)
      : decoder_(decoder), sample_rate_(sample_rate), channels_(channels) {}

  absl::StatusOr<int> PacketSamples(absl::string_view packet, uint64_t sequence) const;

  OpusDecoder* const decoder_;
  const int sample_rate_;
  const int channels_;
  uint64_t last_sequence_ = 0;
  int last_frame_samples_ = 0;  // Per channel, of the last packet: the length of a concealment.
  int64_t concealed_ms_ = 0;
  int64_t late_packets_ = 0;
};

class OpusStreamEncoder {
 public:
  static constexpr int kFrameMs = 20;

  // Speech settings: the VoIP application, 24 kbit/s per channel, no DTX (every 20 ms has a
  // packet, so players need no comfort noise).
  static absl::StatusOr<std::unique_ptr<OpusStreamEncoder>> Create(
      const v1::AudioStreamFormat& format);
  ~OpusStreamEncoder();
  OpusStreamEncoder(const OpusStreamEncoder&) = delete;
  OpusStreamEncoder& operator=(const OpusStreamEncoder&) = delete;

  // Takes PCM16 (whole frames) and returns a packet for each complete 20 ms it now has.
  absl::StatusOr<std::vector<std::string>> Encode(absl::string_view pcm16);
  // The audio left (less than 20 ms), padded with silence into one last packet; none if empty.
  absl::StatusOr<std::vector<std::string>> Flush();
  // Encode, then Flush if `pcm16` is shorter than a frame: the end of a sentence or reply,
  // which must go out now rather than wait for more audio.
  absl::StatusOr<std::vector<std::string>> EncodePiece(absl::string_view pcm16);

  size_t frame_bytes() const { return frame_bytes_; }

 private:
  OpusStreamEncoder(OpusEncoder* encoder, int channels, size_t frame_bytes)
      : encoder_(encoder), channels_(channels), frame_bytes_(frame_bytes) {}
  absl::StatusOr<std::string> EncodeFrame(const char* pcm16);

  OpusEncoder* const encoder_;
  const int channels_;
  const size_t frame_bytes_;  // 20 ms of PCM16.
  std::string pending_;       // PCM16 short of a frame.
};

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_OPUS_CODEC_H_
