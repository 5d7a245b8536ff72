// WAV (and any other file libsndfile reads) in and out of the PCM formats Voxflow streams.
#ifndef VOXFLOW_TOOLS_VOXCTL_WAV_FILE_H_
#define VOXFLOW_TOOLS_VOXCTL_WAV_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "voxflow/v1/audio.pb.h"

namespace voxflow::voxctl {

struct SoundFileInfo {
  int sample_rate = 0;
  int channels = 0;
  long long frames = 0;
};

// Reads the whole file at `path` (any rate and channel count libsndfile reads) and converts it to
// `to`. NOT_FOUND when the file does not exist, PERMISSION_DENIED when it cannot be opened,
// INVALID_ARGUMENT when it is not a sound file or holds no audio; every message names the path.
absl::StatusOr<std::string> ReadSoundFile(const std::string& path, const v1::AudioStreamFormat& to,
                                          SoundFileInfo* info = nullptr);

// Writes PCM16 `pcm` in `format` as a 16-bit WAV file (replacing `path`).
absl::Status WriteWavFile(const std::string& path, absl::string_view pcm,
                          const v1::AudioStreamFormat& format);

}  // namespace voxflow::voxctl

#endif  // VOXFLOW_TOOLS_VOXCTL_WAV_FILE_H_
