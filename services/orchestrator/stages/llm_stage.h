// The llm stage: the reply to the user's text, streamed token by token to the caller and
// sentence by sentence to the stages that stream from it (tts). Event-driven: the model's
// client calls back (RuleLlmClient within Start or on timers, OpenAiLlmClient from the
// CurlLoop), tool calls wait for the caller's ToolResult without a thread, and sentences go out
// through a StreamWriter that never waits for a full edge.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_LLM_STAGE_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_LLM_STAGE_H_

#include <cstddef>
#include <memory>

#include "services/orchestrator/pipeline/stage.h"
#include "services/orchestrator/stages/turn_environment.h"

namespace voxflow::orchestrator {

// The user's text is the typed input, or the `transcript` output of the dependency named by
// parameter "transcript_from" (default "stt"); history comes from "memory_from" (default
// "prefetch_memory"). The model: parameter "provider" (llm_provider.h; RuleLlmClient parameters
// in llm_client.h). Outputs: user_text, reply. SKIP when there is nothing to reply to. A model
// that fails before saying anything is retried per the stage's policy (after its Retry-After),
// then its "fallback_reply" is spoken.
class LlmStage final : public AsyncStage {
 public:
  explicit LlmStage(TurnEnvironment* environment) : environment_(environment) {}
  void Start(std::shared_ptr<StageContext> context, Done done) override;

 private:
  class Attempt;

  TurnEnvironment* const environment_;
  // Across attempts (one at a time), so a retry neither repeats reply text nor re-sends
  // sentences.
  size_t tokens_sent_ = 0;
  size_t sentences_sent_ = 0;
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_LLM_STAGE_H_
