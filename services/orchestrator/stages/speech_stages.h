// The stages that reach the speech services: stt streams the turn's audio to the STT service;
// tts speaks the reply, sentence by sentence, as the llm stage streams it.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_SPEECH_STAGES_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_SPEECH_STAGES_H_

#include <string>
#include <vector>

#include "services/orchestrator/backend.h"
#include "services/orchestrator/pipeline/stage.h"
#include "services/orchestrator/stages/turn_environment.h"

namespace voxflow::orchestrator {

// Outputs: transcript. SKIP for a typed turn or a turn without audio. Retryable backend errors
// (UNAVAILABLE, ...) return RETRY, and so does a backend that answers nothing for
// max(`stall_timeout_ms` (parameter, default 3000), twice the utterance) after its end; the next
// attempt replays the audio already sent, so a retry loses nothing.
class SttStage final : public Stage {
 public:
  SttStage(TurnEnvironment* environment, const Backend* backend)
      : environment_(environment), backend_(backend) {}
  StageResult Run(StageContext& context) override;

 private:
  TurnEnvironment* const environment_;
  const Backend* const backend_;
  std::vector<InputItem> consumed_;  // This turn's input so far (replayed on retry).
  bool saw_end_ = false;
};

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

// True for gRPC codes worth another attempt against a backend.
bool IsRetryable(absl::StatusCode code);

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_SPEECH_STAGES_H_
