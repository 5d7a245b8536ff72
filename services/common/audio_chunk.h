// Helpers for voxflow.v1.AudioChunk: sizes and durations per format, validation with precise
// messages, and a binary-safe representation of audio for logs.
#ifndef VOXFLOW_SERVICES_COMMON_AUDIO_CHUNK_H_
#define VOXFLOW_SERVICES_COMMON_AUDIO_CHUNK_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "voxflow/v1/audio.pb.h"

namespace voxflow {

// Sample rates every service accepts.
inline constexpr int kMinSampleRate = 8000;
inline constexpr int kMaxSampleRate = 48000;
inline constexpr int kMaxChannels = 8;

// Bytes per sample of one channel, or an error for formats that are not sample-framed (OPUS) or
// unspecified.
absl::StatusOr<int> BytesPerSample(v1::AudioFormat format);

// Bytes of one frame (one sample of every channel).
absl::StatusOr<int> BytesPerFrame(const v1::AudioStreamFormat& format);

// Duration of `num_bytes` of audio in `format`, in milliseconds (fractional).
absl::StatusOr<double> DurationMs(size_t num_bytes, const v1::AudioStreamFormat& format);

// Bytes that hold `duration_ms` of audio in `format`, rounded down to whole frames.
absl::StatusOr<size_t> BytesForDuration(double duration_ms, const v1::AudioStreamFormat& format);

// Checks that a stream format is complete and supported: a sample format, a rate within
// [kMinSampleRate, kMaxSampleRate], 1..kMaxChannels channels. `field` names the field in errors,
// e.g. "config.audio_format".
absl::Status ValidateStreamFormat(const v1::AudioStreamFormat& format, absl::string_view field);

// Checks one chunk against the stream's agreed format: same format, rate and channels; non-empty;
// at most `max_bytes`; a whole number of frames.
absl::Status ValidateChunk(const v1::AudioChunk& chunk, const v1::AudioStreamFormat& expected,
                           size_t max_bytes);

// A stream format from its parts.
v1::AudioStreamFormat MakeStreamFormat(v1::AudioFormat format, int sample_rate, int channels);

// The stream format a chunk declares.
v1::AudioStreamFormat StreamFormatOf(const v1::AudioChunk& chunk);

// Binary-safe representation of audio bytes for logs (never raw bytes):
//   "<audio:NB,data:BASE64>"              when size <= max_bytes (the whole payload)
//   "<audio:NB,sample:BASE64...>"         otherwise (base64 of the first max_bytes bytes)
std::string AudioForLog(absl::string_view data, size_t max_bytes = 100);

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_AUDIO_CHUNK_H_
