// The tts stage: speaks the reply, sentence by sentence, as the llm stage streams it. Event-
// driven: a sentence is written to the TTS stream by the thread that put it in the stream, and
// each audio chunk goes to the session's output from the gRPC thread that read it; when the
// output is full, reading pauses until the session's pacing makes room. No thread is held.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_TTS_STAGE_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_TTS_STAGE_H_

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "services/common/backend.h"
#include "services/orchestrator/pipeline/stage.h"
#include "services/orchestrator/stages/turn_environment.h"

namespace voxflow::orchestrator {

// Reads sentences from the stage it streams from (or, without streams_from, splits the `reply`
// output of its first dependency). Parameters: voice, chunk_duration_ms. Outputs: sentences,
// audio_ms. SKIP when the reply is empty. A retry speaks again the sentences whose audio had not
// all arrived.
class TtsStage final : public AsyncStage {
 public:
  TtsStage(TurnEnvironment* environment, const Backend* backend)
      : environment_(environment), backend_(backend) {}
  void Start(std::shared_ptr<StageContext> context, Done done) override;

  // What the attempts have done so far.
  struct Progress {
    std::mutex mu;
    std::vector<std::string> sentences;  // Received so far.
    size_t spoken = 0;                   // Sentences whose audio is complete.
    bool input_done = false;             // The whole reply is in `sentences`.
    double audio_ms = 0;
  };

 private:
  TurnEnvironment* const environment_;
  const Backend* const backend_;
  const std::shared_ptr<Progress> progress_ = std::make_shared<Progress>();
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_TTS_STAGE_H_
