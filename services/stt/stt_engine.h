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
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "services/common/providers/served_provider.h"
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

  using Done = std::function<void(const absl::Status& status)>;
  // Finish without holding the calling thread: `done` runs once the final result went to the
  // sink, on any thread. Engines that wait for a remote server override it (no thread waits
  // for HTTP); the others finish here.
  virtual void FinishAsync(Done done) { done(Finish()); }
  // Stops work in progress at once (any thread): a request in flight is aborted.
  virtual void Cancel() {}
};

class SttEngine {
 public:
  virtual ~SttEngine() = default;
  virtual std::string name() const = 0;
  // BCP-47 tags it recognises; compared case-insensitively.
  virtual std::vector<std::string> Languages() const = 0;
  // Whether it recognises `language` (a BCP-47 tag): by default, one of Languages().
  virtual bool SupportsLanguage(absl::string_view language) const {
    for (const std::string& l : Languages()) {
      if (absl::EqualsIgnoreCase(l, language)) return true;
    }
    return false;
  }
  // OK when RecognitionConfig.provider `requested` ("" for the default) is served by this engine;
  // INVALID_ARGUMENT naming the field otherwise.
  virtual absl::Status CheckProvider(absl::string_view requested) const {
    return CheckServedProvider(requested, {name()});
  }
  // The format Process() wants, given the stream's format (mocks take it as it is).
  virtual v1::AudioStreamFormat NativeFormat(const v1::AudioStreamFormat& input) const = 0;
  // `config` is validated already. `cancelled` is set when the stream is cancelled.
  virtual absl::StatusOr<std::unique_ptr<Recognizer>> Open(const v1::RecognitionConfig& config,
                                                           ResultSink sink,
                                                           const std::atomic<bool>* cancelled) = 0;
};

}  // namespace voxflow::stt

#endif  // VOXFLOW_SERVICES_STT_STT_ENGINE_H_
