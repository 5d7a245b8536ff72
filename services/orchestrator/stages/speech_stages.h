// The tts stage speaks the reply, sentence by sentence, as the llm stage streams it (the stt
// stage is in stt_stage.h).
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_SPEECH_STAGES_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_SPEECH_STAGES_H_

#include <string>
#include <vector>

#include "services/orchestrator/backend.h"
#include "services/orchestrator/pipeline/stage.h"
#include "services/orchestrator/stages/backend_call.h"
#include "services/orchestrator/stages/stt_stage.h"
#include "services/orchestrator/stages/turn_environment.h"

namespace voxflow::orchestrator {

// Reads sentences from the stage it streams from (or, without streams_from, splits the `reply`
// output of its first dependency). Parameters: voice, chunk_duration_ms. Outputs: sentences,
// audio_ms. SKIP when the reply is empty.
class TtsStage final : public Stage {
 public:
  TtsStage(TurnEnvironment* environment, const Backend* backend)
      : environment_(environment), backend_(backend) {}
  StageResult Run(StageContext& context) override;

 private:
  // The next sentence to speak; nullopt at the end of the reply or on cancellation.
  std::optional<std::string> NextSentence(StageContext& context);

  TurnEnvironment* const environment_;
  const Backend* const backend_;
  std::vector<std::string> sentences_;  // Received so far, across attempts.
  size_t next_sentence_ = 0;            // Next of sentences_ to send in this attempt.
  size_t spoken_ = 0;                   // Sentences whose audio is complete.
  bool input_done_ = false;
  bool split_done_ = false;
  double audio_ms_ = 0;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_SPEECH_STAGES_H_
