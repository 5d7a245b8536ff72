// SttEngine: what a speech recognizer must do for the STT service — open a Recognizer that takes
// audio at the engine's native format and reports transcripts and speech events as they happen.
// Everything engines share (config and chunk validation, format conversion) lives in SttSession.
#ifndef VOXFLOW_SERVICES_STT_STT_ENGINE_H_
#define VOXFLOW_SERVICES_STT_STT_ENGINE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "voxflow/v1/stt.pb.h"

namespace voxflow::stt {

using ResultSink = std::function<void(v1::RecognizeResponse)>;

class Recognizer {
 public:
  virtual ~Recognizer() = default;
  // Audio in the engine's native format, whole frames. Results go to the sink as they come.
  virtual absl::Status Process(absl::string_view pcm) = 0;
  // End of input: finishes the current utterance (its final result goes to the sink).
  virtual absl::Status Finish() = 0;
};

class SttEngine {
 public:
  virtual ~SttEngine() = default;
  virtual std::string name() const = 0;
  // BCP-47 tags it recognises; compared case-insensitively.
  virtual std::vector<std::string> Languages() const = 0;
  // The format Process() wants, given the stream's format (mocks take it as it is).
  virtual v1::AudioStreamFormat NativeFormat(const v1::AudioStreamFormat& input) const = 0;
  // `config` is validated already. `cancelled` is set when the stream is cancelled.
  virtual absl::StatusOr<std::unique_ptr<Recognizer>> Open(const v1::RecognitionConfig& config,
                                                           ResultSink sink,
                                                           const std::atomic<bool>* cancelled) = 0;
};

}  // namespace voxflow::stt

#endif  // VOXFLOW_SERVICES_STT_STT_ENGINE_H_
