#include "services/common/audio_converter.h"

#include <soxr.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/audio_chunk.h"
#include "services/common/sample_format.h"

namespace voxflow {
namespace {

constexpr size_t kMaxPieceFrames = 1024;

}  // namespace

absl::StatusOr<std::unique_ptr<AudioConverter>> AudioConverter::Create(
    const v1::AudioStreamFormat& from, const v1::AudioStreamFormat& to) {
  if (absl::Status status = ValidateStreamFormat(from, "input"); !status.ok()) return status;
  if (absl::Status status = ValidateStreamFormat(to, "output"); !status.ok()) return status;
  soxr* resampler = nullptr;
  if (from.sample_rate() != to.sample_rate()) {
    soxr_error_t error = nullptr;
    const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    // High quality; voice needs no more, and it keeps the delay to a few ms.
    const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
    // One thread: engine work runs on our own bounded worker pools, not on soxr's OpenMP threads.
    const soxr_runtime_spec_t runtime = soxr_runtime_spec(1);
    resampler = soxr_create(from.sample_rate(), to.sample_rate(),
                            static_cast<unsigned>(to.channels()), &error, &io, &quality, &runtime);
    if (error != nullptr) {
      return absl::InternalError(absl::StrCat("soxr_create: ", error));
    }
  }
  return std::unique_ptr<AudioConverter>(new AudioConverter(from, to, resampler));
}

AudioConverter::AudioConverter(v1::AudioStreamFormat from, v1::AudioStreamFormat to,
                               soxr* resampler)
    : from_(std::move(from)),
      to_(std::move(to)),
      resampler_(resampler),
      from_bytes_per_sample_(*BytesPerSample(from_.format())),
      to_bytes_per_sample_(*BytesPerSample(to_.format())) {}

AudioConverter::~AudioConverter() {
  if (resampler_ != nullptr) soxr_delete(resampler_);
}

absl::StatusOr<std::vector<float>> AudioConverter::ConvertToFloat(absl::string_view input) {
  if (flushed_) return absl::FailedPreconditionError("audio converter: Convert after Flush");
  const size_t frame_bytes = static_cast<size_t>(from_bytes_per_sample_ * from_.channels());
  if (input.size() % frame_bytes != 0) {
    return absl::InvalidArgumentError(absl::StrCat(input.size(), " bytes is not a whole number of ",
                                                   frame_bytes, "-byte frames"));
  }
  const size_t frames = input.size() / frame_bytes;
  const int in_channels = from_.channels(), out_channels = to_.channels();
  std::vector<float> mapped(frames * static_cast<size_t>(out_channels));
  for (size_t f = 0; f < frames; ++f) {
    const char* frame = input.data() + f * frame_bytes;
    if (in_channels == out_channels) {
      for (int c = 0; c < in_channels; ++c) {
        mapped[f * out_channels + c] =
            DecodeSample(from_.format(), frame + c * from_bytes_per_sample_);
      }
    } else if (out_channels == 1) {  // Downmix: average.
      float sum = 0;
      for (int c = 0; c < in_channels; ++c) {
        sum += DecodeSample(from_.format(), frame + c * from_bytes_per_sample_);
      }
      mapped[f] = sum / static_cast<float>(in_channels);
    } else {  // Map channel c to c modulo the input's channels (mono → all, stereo → 4.0, ...).
      for (int c = 0; c < out_channels; ++c) {
        mapped[f * out_channels + c] =
            DecodeSample(from_.format(), frame + (c % in_channels) * from_bytes_per_sample_);
      }
    }
  }
  return resampler_ == nullptr ? mapped : Resample(mapped, false);
}

std::vector<float> AudioConverter::FlushToFloat() {
  if (flushed_) return {};
  flushed_ = true;
  return resampler_ == nullptr ? std::vector<float>() : Resample({}, true);
}

std::vector<float> AudioConverter::Resample(const std::vector<float>& input, bool flush) {
  const size_t channels = static_cast<size_t>(to_.channels());
  const size_t in_frames = input.size() / channels;
  const double ratio = static_cast<double>(to_.sample_rate()) / from_.sample_rate();
  std::vector<float> output;
  size_t consumed = 0;
  while (true) {
    // Bounded pieces keep each call's output buffer small.
    const size_t piece = flush ? 0 : std::min<size_t>(in_frames - consumed, kMaxPieceFrames);
    const size_t room = static_cast<size_t>(static_cast<double>(piece) * ratio) + 256;
    const size_t start = output.size();
    output.resize(start + room * channels);
    size_t in_done = 0, out_done = 0;
    soxr_process(resampler_, flush ? nullptr : input.data() + consumed * channels, piece, &in_done,
                 output.data() + start, room, &out_done);
    output.resize(start + out_done * channels);
    consumed += in_done;
    // Done when all input is taken and the resampler had nothing more for the space we gave.
    if (consumed >= in_frames && out_done < room) break;
  }
  return output;
}

std::string AudioConverter::Encode(const std::vector<float>& samples) const {
  std::string out(samples.size() * static_cast<size_t>(to_bytes_per_sample_), '\0');
  for (size_t i = 0; i < samples.size(); ++i) {
    EncodeSample(to_.format(), samples[i], out.data() + i * to_bytes_per_sample_);
  }
  return out;
}

namespace {

bool IsG711(v1::AudioFormat format) { return format == v1::MULAW || format == v1::ALAW; }

}  // namespace

absl::StatusOr<std::string> AudioConverter::Convert(absl::string_view input) {
  const size_t frame_bytes = static_cast<size_t>(from_bytes_per_sample_ * from_.channels());
  if (!flushed_ && resampler_ == nullptr && from_.channels() == to_.channels() &&
      input.size() % frame_bytes == 0) {
    // G.711 to PCM16 or back at the same rate (a phone line's audio through the echo canceller
    // and the detector, 50 times a second a call): in integers, the same samples as through
    // floats at a fraction of the cost (about 30 % of an idle canceller's time went to the float
    // path, docs/BENCHMARKS.md).
    if (IsG711(from_.format()) && to_.format() == v1::PCM16) {
      const std::array<int16_t, 256>& decode = G711DecodeTable(from_.format());
      std::string out(input.size() * 2, '\0');
      for (size_t i = 0; i < input.size(); ++i) {
        const int16_t v = decode[static_cast<uint8_t>(input[i])];
        std::memcpy(out.data() + 2 * i, &v, 2);  // PCM16 is little-endian, as this machine.
      }
      return out;
    }
    if (from_.format() == v1::PCM16 && IsG711(to_.format())) {
      const std::array<uint8_t, 65536>& encode = G711EncodeTable(to_.format());
      std::string out(input.size() / 2, '\0');
      for (size_t i = 0; i < out.size(); ++i) {
        uint16_t v;
        std::memcpy(&v, input.data() + 2 * i, 2);
        out[i] = static_cast<char>(encode[v]);
      }
      return out;
    }
  }
  absl::StatusOr<std::vector<float>> samples = ConvertToFloat(input);
  if (!samples.ok()) return samples.status();
  return Encode(*samples);
}

std::string AudioConverter::Flush() { return Encode(FlushToFloat()); }

}  // namespace voxflow
