// AudioConverter: converts a stream of audio between AudioStreamFormats — sample format, channel
// count (downmix by averaging, upmix by copying) and sample rate (libsoxr, streaming). Stateful:
// feed consecutive pieces to Convert() and call Flush() at the end for the resampler's tail.
#ifndef VOXFLOW_SERVICES_COMMON_AUDIO_CONVERTER_H_
#define VOXFLOW_SERVICES_COMMON_AUDIO_CONVERTER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "voxflow/v1/audio.pb.h"

struct soxr;

namespace voxflow {

class AudioConverter {
 public:
  // INVALID_ARGUMENT if either format is not supported (see ValidateStreamFormat).
  static absl::StatusOr<std::unique_ptr<AudioConverter>> Create(const v1::AudioStreamFormat& from,
                                                                const v1::AudioStreamFormat& to);
  ~AudioConverter();
  AudioConverter(const AudioConverter&) = delete;
  AudioConverter& operator=(const AudioConverter&) = delete;

  // Converts `input` (whole frames of `from`); returns whole frames of `to`. With resampling the
  // output trails the input by the resampler's delay, which Flush() releases.
  absl::StatusOr<std::string> Convert(absl::string_view input);

  // Ends the stream: returns what the resampler still holds. Convert() after it is
  // FAILED_PRECONDITION; a second Flush() returns nothing.
  std::string Flush();

  // Same, for float samples in [-1, 1] interleaved with `to`'s channel count (engines that want
  // floats or int16 use these and skip an encode/decode).
  absl::StatusOr<std::vector<float>> ConvertToFloat(absl::string_view input);
  std::vector<float> FlushToFloat();

 private:
  AudioConverter(v1::AudioStreamFormat from, v1::AudioStreamFormat to, soxr* resampler);
  std::vector<float> Resample(const std::vector<float>& input, bool flush);
  std::string Encode(const std::vector<float>& samples) const;

  const v1::AudioStreamFormat from_;
  const v1::AudioStreamFormat to_;
  soxr* resampler_;  // Null when the rates match.
  int from_bytes_per_sample_;
  int to_bytes_per_sample_;
  bool flushed_ = false;
};

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_AUDIO_CONVERTER_H_
