#include "services/common/opus_codec.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "opus.h"
#include "services/common/audio_chunk.h"

namespace voxflow {
namespace {

// The longest packet Opus makes: 120 ms.
constexpr int kMaxPacketMs = 120;

bool IsOpusRate(int rate) {
  return rate == 8000 || rate == 12000 || rate == 16000 || rate == 24000 || rate == 48000;
}

}  // namespace

absl::Status ValidateOpusFormat(const v1::AudioStreamFormat& format, absl::string_view field) {
  if (!IsOpusRate(format.sample_rate())) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".sample_rate ", format.sample_rate(),
                     " is not an Opus rate (8000, 12000, 16000, 24000 or 48000 Hz)"));
  }
  if (format.channels() != 1 && format.channels() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".channels ", format.channels(), " is not supported by Opus (1 or 2)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateWireFormat(const v1::AudioStreamFormat& format, absl::string_view field) {
  return format.format() == v1::OPUS ? ValidateOpusFormat(format, field)
                                     : ValidateStreamFormat(format, field);
}

v1::AudioStreamFormat DecodedFormat(const v1::AudioStreamFormat& format) {
  if (format.format() != v1::OPUS) return format;
  v1::AudioStreamFormat decoded = format;
  decoded.set_format(v1::PCM16);
  return decoded;
}

absl::StatusOr<std::unique_ptr<OpusStreamDecoder>> OpusStreamDecoder::Create(
    const v1::AudioStreamFormat& format) {
  if (absl::Status s = ValidateOpusFormat(format, "format"); !s.ok()) return s;
  int error = OPUS_OK;
  OpusDecoder* decoder = opus_decoder_create(format.sample_rate(), format.channels(), &error);
  if (error != OPUS_OK || decoder == nullptr) {
    return absl::InternalError(absl::StrCat("opus decoder: ", opus_strerror(error)));
  }
  return std::unique_ptr<OpusStreamDecoder>(
      new OpusStreamDecoder(decoder, format.sample_rate(), format.channels()));
}

OpusStreamDecoder::~OpusStreamDecoder() { opus_decoder_destroy(decoder_); }

absl::StatusOr<int> OpusStreamDecoder::PacketSamples(absl::string_view packet,
                                                     uint64_t sequence) const {
  const auto* bytes = reinterpret_cast<const unsigned char*>(packet.data());
  const int samples =
      opus_decoder_get_nb_samples(decoder_, bytes, static_cast<opus_int32>(packet.size()));
  if (samples < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "audio chunk ", sequence, ": not an Opus packet (", opus_strerror(samples), ")"));
  }
  if (samples > sample_rate_ / 1000 * kMaxPacketMs) {
    return absl::InvalidArgumentError(
        absl::StrCat("audio chunk ", sequence, ": an Opus packet longer than 120 ms"));
  }
  return samples;
}

absl::StatusOr<double> OpusStreamDecoder::PacketMs(absl::string_view packet,
                                                   uint64_t sequence) const {
  absl::StatusOr<int> samples = PacketSamples(packet, sequence);
  if (!samples.ok()) return samples.status();
  return *samples * 1000.0 / sample_rate_;
}

absl::StatusOr<std::string> OpusStreamDecoder::Decode(absl::string_view packet, uint64_t sequence) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(packet.data());
  absl::StatusOr<int> counted = PacketSamples(packet, sequence);
  if (!counted.ok()) return counted.status();
  const int samples = *counted;
  std::string pcm;
  if (sequence != 0 && last_sequence_ != 0) {
    if (sequence <= last_sequence_) {
      ++late_packets_;  // Its time has been played (or concealed) already.
      return pcm;
    }
    // Conceal the chunks missing in between, each as long as the last packet, within a bound.
    const uint64_t missing = sequence - last_sequence_ - 1;
    const int frame = std::max(last_frame_samples_, sample_rate_ / 50);
    const uint64_t max_missing =
        static_cast<uint64_t>(sample_rate_ / 1000 * kMaxConcealedMs / frame);
    const uint64_t concealed_packets = std::min(missing, max_missing);
    for (uint64_t i = 0; i < concealed_packets; ++i) {
      std::string concealed(static_cast<size_t>(frame * channels_) * 2, '\0');
      // The packet just before this one can be rebuilt from this one's in-band FEC, when the
      // sender coded it (decode_fec without it is plain concealment); only when it is the last
      // concealed (a gap longer than the bound is not concealed whole).
      const bool fec = concealed_packets == missing && i + 1 == missing;
      const int n = opus_decode(
          decoder_, fec ? bytes : nullptr, fec ? static_cast<opus_int32>(packet.size()) : 0,
          reinterpret_cast<opus_int16*>(concealed.data()), frame, fec ? 1 : 0);
      if (n > 0) {
        concealed.resize(static_cast<size_t>(n * channels_) * 2);
        pcm += concealed;
        concealed_ms_ += n * 1000 / sample_rate_;
      }
    }
  }
  std::string decoded(static_cast<size_t>(samples * channels_) * 2, '\0');
  const int n = opus_decode(decoder_, bytes, static_cast<opus_int32>(packet.size()),
                            reinterpret_cast<opus_int16*>(decoded.data()), samples, 0);
  if (n < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "audio chunk ", sequence, ": the Opus packet does not decode (", opus_strerror(n), ")"));
  }
  decoded.resize(static_cast<size_t>(n * channels_) * 2);
  pcm += decoded;
  last_frame_samples_ = n;
  if (sequence != 0) last_sequence_ = sequence;
  return pcm;
}

absl::StatusOr<std::unique_ptr<OpusStreamEncoder>> OpusStreamEncoder::Create(
    const v1::AudioStreamFormat& format) {
  if (absl::Status s = ValidateOpusFormat(format, "format"); !s.ok()) return s;
  int error = OPUS_OK;
  OpusEncoder* encoder =
      opus_encoder_create(format.sample_rate(), format.channels(), OPUS_APPLICATION_VOIP, &error);
  if (error != OPUS_OK || encoder == nullptr) {
    return absl::InternalError(absl::StrCat("opus encoder: ", opus_strerror(error)));
  }
  opus_encoder_ctl(encoder, OPUS_SET_BITRATE(24000 * format.channels()));
  opus_encoder_ctl(encoder, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
  opus_encoder_ctl(encoder, OPUS_SET_DTX(0));
  const size_t frame_bytes =
      static_cast<size_t>(format.sample_rate() / 1000 * kFrameMs * format.channels()) * 2;
  return std::unique_ptr<OpusStreamEncoder>(
      new OpusStreamEncoder(encoder, format.channels(), frame_bytes));
}

OpusStreamEncoder::~OpusStreamEncoder() { opus_encoder_destroy(encoder_); }

absl::StatusOr<std::string> OpusStreamEncoder::EncodeFrame(const char* pcm16) {
  unsigned char packet[4000];
  const int samples = static_cast<int>(frame_bytes_ / 2 / static_cast<size_t>(channels_));
  // PCM16 is little-endian, as opus_int16 is on the machines we build for.
  std::vector<opus_int16> frame(frame_bytes_ / 2);
  std::memcpy(frame.data(), pcm16, frame_bytes_);
  const int n = opus_encode(encoder_, frame.data(), samples, packet, sizeof(packet));
  if (n < 0) return absl::InternalError(absl::StrCat("opus encode: ", opus_strerror(n)));
  return std::string(reinterpret_cast<const char*>(packet), static_cast<size_t>(n));
}

absl::StatusOr<std::vector<std::string>> OpusStreamEncoder::Encode(absl::string_view pcm16) {
  pending_.append(pcm16.data(), pcm16.size());
  std::vector<std::string> packets;
  size_t at = 0;
  for (; at + frame_bytes_ <= pending_.size(); at += frame_bytes_) {
    absl::StatusOr<std::string> packet = EncodeFrame(pending_.data() + at);
    if (!packet.ok()) return packet.status();
    packets.push_back(*std::move(packet));
  }
  pending_.erase(0, at);
  return packets;
}

absl::StatusOr<std::vector<std::string>> OpusStreamEncoder::EncodePiece(absl::string_view pcm16) {
  absl::StatusOr<std::vector<std::string>> packets = Encode(pcm16);
  if (!packets.ok() || pcm16.size() >= frame_bytes_) return packets;
  absl::StatusOr<std::vector<std::string>> last = Flush();
  if (!last.ok()) return last.status();
  packets->insert(packets->end(), last->begin(), last->end());
  return packets;
}

absl::StatusOr<std::vector<std::string>> OpusStreamEncoder::Flush() {
  if (pending_.empty()) return std::vector<std::string>{};
  pending_.resize(frame_bytes_, '\0');
  absl::StatusOr<std::vector<std::string>> packets = Encode("");
  pending_.clear();
  return packets;
}

}  // namespace voxflow
