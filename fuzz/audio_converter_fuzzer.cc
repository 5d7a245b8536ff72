// Sample-format decoding, AudioConverter (format, channels, resampling) and the Opus decoder on
// arbitrary formats and bytes: what clients send as audio.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "fuzz/fuzz_input.h"
#include "services/common/audio_chunk.h"
#include "services/common/audio_converter.h"
#include "services/common/opus_codec.h"
#include "services/common/sample_format.h"
#include "spdlog/spdlog.h"

namespace {

voxflow::v1::AudioStreamFormat Format(voxflow::fuzz::FuzzInput& in) {
  static constexpr int kRates[] = {8000,  11025, 12000, 16000, 22050, 24000,  32000,
                                   44100, 48000, 96000, 0,     1,     -16000, 1000000};
  voxflow::v1::AudioStreamFormat format;
  format.set_format(static_cast<voxflow::v1::AudioFormat>(in.IntInRange(-1, 7)));
  format.set_sample_rate(in.Bool() ? in.Pick(kRates) : in.Integral<int32_t>());
  format.set_channels(static_cast<int32_t>(in.IntInRange(-1, 9)));
  return format;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace voxflow;  // NOLINT: a fuzz target.
  fuzz::FuzzInput in(data, size);
  const v1::AudioStreamFormat from = Format(in);
  const v1::AudioStreamFormat to = Format(in);
  const std::string audio = in.Bytes(64 << 10);

  if (absl::StatusOr<int> bytes = BytesPerSample(from.format()); bytes.ok()) {
    for (size_t at = 0; at + *bytes <= audio.size(); at += *bytes) {
      (void)DecodeSample(from.format(), audio.data() + at);
    }
    (void)RmsLevel(audio.substr(0, audio.size() - audio.size() % *bytes), from.format());
  }
  (void)DurationMs(audio.size(), from);

  // Opus packets (one per chunk), with sequence numbers that skip, repeat and jump.
  if (from.format() == v1::OPUS) {
    absl::StatusOr<std::unique_ptr<OpusStreamDecoder>> decoder = OpusStreamDecoder::Create(from);
    if (decoder.ok()) {
      uint64_t sequence = 0;
      for (size_t at = 0; at < audio.size();) {
        const size_t packet = 1 + static_cast<size_t>(in.IntInRange(0, 400));
        sequence += static_cast<uint64_t>(in.IntInRange(0, 3));
        (void)(*decoder)->Decode(absl::string_view(audio).substr(at, packet), sequence);
        at += packet;
      }
    }
    return 0;
  }
  absl::StatusOr<std::unique_ptr<AudioConverter>> converter = AudioConverter::Create(from, to);
  if (!converter.ok()) return 0;
  // In pieces, as a stream arrives; whole frames or not (the converter must refuse the rest).
  for (size_t at = 0; at < audio.size();) {
    const size_t piece = 1 + static_cast<size_t>(in.IntInRange(0, 4096));
    (void)(*converter)->Convert(absl::string_view(audio).substr(at, piece));
    at += piece;
  }
  (void)(*converter)->ConvertToFloat(absl::string_view(audio).substr(0, 256));
  (void)(*converter)->Flush();
  return 0;
}
