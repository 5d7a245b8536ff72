// The answers of OpenAI's POST /audio/transcriptions, as the openai STT provider reads them:
// `json` ({"text"}), `verbose_json` (text, words and segments with their timings), and the
// server-sent events of `stream=true` (transcript.text.delta / transcript.text.done).
#ifndef VOXFLOW_SERVICES_STT_TRANSCRIPTION_RESPONSE_H_
#define VOXFLOW_SERVICES_STT_TRANSCRIPTION_RESPONSE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/common/http/sse_parser.h"
#include "voxflow/v1/stt.pb.h"

namespace voxflow::stt {

struct Transcription {
  std::string text;
  std::vector<v1::WordInfo> words;  // Times in ms from the start of the file.
  float confidence = 0;             // From the segments' avg_logprob; 0 when none.
};

// A json or verbose_json body. INTERNAL naming what is wrong when it is not one.
absl::StatusOr<Transcription> ParseTranscription(absl::string_view body);

struct TranscriptionEvent {
  enum class Kind { kDelta, kDone, kOther };
  Kind kind = Kind::kOther;
  std::string text;  // The delta, or the whole text when done.
};

// One event of a streamed transcription. INTERNAL when its data is not the JSON it should be.
absl::StatusOr<TranscriptionEvent> ParseTranscriptionEvent(const SseEvent& event);

}  // namespace voxflow::stt

#endif  // VOXFLOW_SERVICES_STT_TRANSCRIPTION_RESPONSE_H_
