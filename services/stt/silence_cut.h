// Where to cut an utterance too long for one transcription request: at its quietest moment, so
// that no word is split between two requests.
#ifndef VOXFLOW_SERVICES_STT_SILENCE_CUT_H_
#define VOXFLOW_SERVICES_STT_SILENCE_CUT_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace voxflow::stt {

// The byte offset (a whole sample, > 0) in mono PCM16 `pcm` to cut at: the middle of its
// quietest 20 ms frame in the second half, so each piece keeps at least half of the limit.
size_t QuietestCut(absl::string_view pcm, int sample_rate);

}  // namespace voxflow::stt

#endif  // VOXFLOW_SERVICES_STT_SILENCE_CUT_H_
