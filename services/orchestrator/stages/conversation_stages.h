// The stages that remember: memory_fetch and memory_write (the session's history), and the
// factories of every built-in stage.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_CONVERSATION_STAGES_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_CONVERSATION_STAGES_H_

#include <set>
#include <string>

#include "services/common/backend.h"
#include "services/orchestrator/conversation_memory.h"
#include "services/orchestrator/pipeline/stage.h"
#include "services/orchestrator/stages/turn_environment.h"

namespace voxflow::orchestrator {

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

// Factories for every built-in stage type, bound to one turn.
StageFactories MakeStageFactories(TurnEnvironment* environment, const Backend* stt,
                                  const Backend* tts, ConversationMemory* memory);
// The stage types MakeStageFactories knows (for PipelineGraph::Build).
const std::set<std::string>& BuiltInStageTypes();

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_CONVERSATION_STAGES_H_
