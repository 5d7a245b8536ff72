#include "services/orchestrator/turn_run.h"

#include <functional>
#include <utility>

#include "services/orchestrator/stages/conversation_stages.h"

namespace voxflow::orchestrator {

StageFactories TurnStageFactories(const SessionServices& services,
                                  const std::shared_ptr<Turn>& turn) {
  StageFactories factories =
      services.stage_factories
          ? services.stage_factories(turn.get())
          : MakeStageFactories(turn.get(), services.stt, services.tts, services.memory);
  // The stages read and write the turn through a plain pointer: the factories keep it alive.
  for (auto& [type, factory] : factories) {
    factory = [turn, make = std::move(factory)](const v1::StageSpec& spec) { return make(spec); };
  }
  return factories;
}

DagRunOptions TurnRunOptions(const SessionServices& services, const std::string& session_id,
                             int turn_id, std::shared_ptr<CancellationToken> parent) {
  DagRunOptions options;
  options.timers = services.timers;
  if (services.stage_executor != nullptr) options.executor = services.stage_executor;
  options.log_context = {session_id, turn_id};
  options.seed = static_cast<uint32_t>(std::hash<std::string>()(session_id) + turn_id);
  options.parent = std::move(parent);
  options.run_before_release = {"stt"};
  return options;
}

}  // namespace voxflow::orchestrator
