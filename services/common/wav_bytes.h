// WAV in memory (libsndfile's virtual I/O): the file a transcription request uploads, and the
// `wav` body a speech server answers when it cannot send raw PCM.
#ifndef VOXFLOW_SERVICES_COMMON_WAV_BYTES_H_
#define VOXFLOW_SERVICES_COMMON_WAV_BYTES_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace voxflow {

// A 16-bit PCM WAV file holding `pcm` (PCM16 little-endian, interleaved).
absl::StatusOr<std::string> EncodeWav(absl::string_view pcm, int sample_rate, int channels);

struct DecodedWav {
  std::string pcm;  // PCM16 little-endian, interleaved.
  int sample_rate = 0;
  int channels = 0;
};

// Any WAV libsndfile reads, as PCM16. INVALID_ARGUMENT when it is not one.
absl::StatusOr<DecodedWav> DecodeWav(absl::string_view bytes);

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_WAV_BYTES_H_
