#include "services/common/audio_chunk.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace voxflow {

absl::StatusOr<int> BytesPerSample(v1::AudioFormat format) {
  switch (format) {
    case v1::PCM16:
      return 2;
    case v1::PCM24:
      return 3;
    case v1::PCM32:
    case v1::FLOAT32:
      return 4;
    case v1::MULAW:
    case v1::ALAW:
      return 1;
    case v1::OPUS:
      return absl::InvalidArgumentError("OPUS is not a sample-framed format");
    case v1::AUDIO_FORMAT_UNSPECIFIED:
      return absl::InvalidArgumentError("audio format is unspecified");
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown audio format ", format));
  }
}

absl::StatusOr<int> BytesPerFrame(const v1::AudioStreamFormat& format) {
  absl::StatusOr<int> sample = BytesPerSample(format.format());
  if (!sample.ok()) return sample.status();
  if (format.channels() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("channels must be >= 1, got ", format.channels()));
  }
  return *sample * format.channels();
}

absl::StatusOr<double> DurationMs(size_t num_bytes, const v1::AudioStreamFormat& format) {
  absl::StatusOr<int> frame = BytesPerFrame(format);
  if (!frame.ok()) return frame.status();
  if (format.sample_rate() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("sample_rate must be > 0, got ", format.sample_rate()));
  }
  return static_cast<double>(num_bytes) / *frame * 1000.0 / format.sample_rate();
}

absl::StatusOr<size_t> BytesForDuration(double duration_ms, const v1::AudioStreamFormat& format) {
  absl::StatusOr<int> frame = BytesPerFrame(format);
  if (!frame.ok()) return frame.status();
  if (format.sample_rate() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("sample_rate must be > 0, got ", format.sample_rate()));
  }
  if (duration_ms < 0) {
    return absl::InvalidArgumentError(absl::StrCat("duration must be >= 0, got ", duration_ms));
  }
  const auto frames = static_cast<size_t>(duration_ms * format.sample_rate() / 1000.0 + 1e-9);
  return frames * static_cast<size_t>(*frame);
}

absl::Status ValidateStreamFormat(const v1::AudioStreamFormat& format, absl::string_view field) {
  if (format.format() == v1::AUDIO_FORMAT_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".format is required"));
  }
  if (!v1::AudioFormat_IsValid(format.format())) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".format ", format.format(), " is not a known AudioFormat"));
  }
  if (format.format() == v1::OPUS) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".format OPUS is not supported"));
  }
  if (format.sample_rate() < kMinSampleRate || format.sample_rate() > kMaxSampleRate) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".sample_rate ", format.sample_rate(),
                                                   " is not supported (", kMinSampleRate, "..",
                                                   kMaxSampleRate, " Hz)"));
  }
  if (format.channels() < 1 || format.channels() > kMaxChannels) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".channels ", format.channels(),
                                                   " is not supported (1..", kMaxChannels, ")"));
  }
  return absl::OkStatus();
}

v1::AudioStreamFormat MakeStreamFormat(v1::AudioFormat format, int sample_rate, int channels) {
  v1::AudioStreamFormat f;
  f.set_format(format);
  f.set_sample_rate(sample_rate);
  f.set_channels(channels);
  return f;
}

v1::AudioStreamFormat StreamFormatOf(const v1::AudioChunk& chunk) {
  return MakeStreamFormat(chunk.format(), chunk.sample_rate(), chunk.channels());
}

absl::Status ValidateChunk(const v1::AudioChunk& chunk, const v1::AudioStreamFormat& expected,
                           size_t max_bytes) {
  if (chunk.format() != expected.format()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "audio chunk ", chunk.sequence(), ": format ", v1::AudioFormat_Name(chunk.format()),
        " differs from the stream's ", v1::AudioFormat_Name(expected.format())));
  }
  if (chunk.sample_rate() != expected.sample_rate()) {
    return absl::InvalidArgumentError(
        absl::StrCat("audio chunk ", chunk.sequence(), ": sample_rate ", chunk.sample_rate(),
                     " differs from the stream's ", expected.sample_rate()));
  }
  if (chunk.channels() != expected.channels()) {
    return absl::InvalidArgumentError(absl::StrCat("audio chunk ", chunk.sequence(), ": channels ",
                                                   chunk.channels(), " differs from the stream's ",
                                                   expected.channels()));
  }
  if (chunk.data().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("audio chunk ", chunk.sequence(), ": data is empty"));
  }
  if (chunk.data().size() > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("audio chunk ", chunk.sequence(), ": ",
                                                   chunk.data().size(),
                                                   " bytes exceeds the limit of ", max_bytes));
  }
  if (expected.format() == v1::OPUS) return absl::OkStatus();  // A packet: the decoder checks it.
  absl::StatusOr<int> frame = BytesPerFrame(expected);
  if (!frame.ok()) return frame.status();
  if (chunk.data().size() % static_cast<size_t>(*frame) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "audio chunk ", chunk.sequence(), ": ", chunk.data().size(),
        " bytes is not a whole number of ", *frame, "-byte frames (",
        v1::AudioFormat_Name(expected.format()), ", ", expected.channels(), " channel(s))"));
  }
  return absl::OkStatus();
}

std::string AudioForLog(absl::string_view data, size_t max_bytes) {
  if (data.size() > max_bytes) {
    return absl::StrCat("<audio:", data.size(),
                        "B,sample:", absl::Base64Escape(data.substr(0, max_bytes)), "...>");
  }
  return absl::StrCat("<audio:", data.size(), "B,data:", absl::Base64Escape(data), ">");
}

}  // namespace voxflow
