// The stages that think and remember: llm (streams the reply, sentence by sentence, to the stages
// that stream from it), memory_fetch and memory_write (the session's history).
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_CONVERSATION_STAGES_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_CONVERSATION_STAGES_H_

#include <set>
#include <string>

#include "services/orchestrator/conversation_memory.h"
#include "services/orchestrator/pipeline/stage.h"
#include "services/orchestrator/stages/turn_environment.h"

namespace voxflow::orchestrator {

// The user's text is the typed input, or the `transcript` output of the dependency named by
// parameter "transcript_from" (default "stt"); history comes from "memory_from" (default
// "prefetch_memory"). RuleLlmClient parameters as in llm_client.h. Outputs: user_text, reply.
// SKIP when there is nothing to reply to. A rule model that answers at once replies where the
// stage starts (the executor); a model that makes the stage wait (a model server, a paced rule
// model) gets a thread for the reply (the next step: libcurl's multi interface on one loop, and
// the rule model's pacing on timers).
class LlmStage final : public AsyncStage {
 public:
  explicit LlmStage(TurnEnvironment* environment) : environment_(environment) {}
  void Start(std::shared_ptr<StageContext> context, Done done) override;

 private:
  StageResult Reply(StageContext& context);

  TurnEnvironment* const environment_;
  // Across attempts, so a retry neither repeats reply text nor re-sends sentences.
  size_t tokens_sent_ = 0;
  size_t sentences_sent_ = 0;
};

// Outputs: history (FormatHistory), exchanges. Parameter max_exchanges (default 20). In memory:
// done where it starts, on the executor, without a thread of its own.
class MemoryFetchStage final : public AsyncStage {
 public:
  MemoryFetchStage(TurnEnvironment* environment, ConversationMemory* memory)
      : environment_(environment), memory_(memory) {}
  void Start(std::shared_ptr<StageContext> context, Done done) override { done(Fetch(*context)); }

 private:
  StageResult Fetch(StageContext& context);
  TurnEnvironment* const environment_;
  ConversationMemory* const memory_;
};

// Records the exchange from the `user_text` and `reply` of the dependency named by parameter
// "from" (default "llm"). SKIP when there is no reply. Done where it starts, like memory_fetch.
class MemoryWriteStage final : public AsyncStage {
 public:
  MemoryWriteStage(TurnEnvironment* environment, ConversationMemory* memory)
      : environment_(environment), memory_(memory) {}
  void Start(std::shared_ptr<StageContext> context, Done done) override { done(Write(*context)); }

 private:
  StageResult Write(StageContext& context);
  TurnEnvironment* const environment_;
  ConversationMemory* const memory_;
};

class Backend;

// Factories for every built-in stage type, bound to one turn.
StageFactories MakeStageFactories(TurnEnvironment* environment, const Backend* stt,
                                  const Backend* tts, ConversationMemory* memory);
// The stage types MakeStageFactories knows (for PipelineGraph::Build).
const std::set<std::string>& BuiltInStageTypes();

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_CONVERSATION_STAGES_H_
