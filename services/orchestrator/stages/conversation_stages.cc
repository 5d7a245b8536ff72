#include "services/orchestrator/stages/conversation_stages.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/common/backend.h"
#include "services/orchestrator/stages/llm_stage.h"
#include "services/orchestrator/stages/stt_stage.h"
#include "services/orchestrator/stages/tts_stage.h"

namespace voxflow::orchestrator {

StageResult MemoryFetchStage::Fetch(StageContext& context) {
  int max_exchanges = 20;
  if (!absl::SimpleAtoi(context.Parameter("max_exchanges", "20"), &max_exchanges) ||
      max_exchanges < 0) {
    return StageResult::Fail(
        absl::InvalidArgumentError("memory_fetch parameter max_exchanges must be >= 0"));
  }
  absl::StatusOr<std::vector<Exchange>> history =
      memory_->Fetch(environment_->session_id(), static_cast<size_t>(max_exchanges));
  if (!history.ok()) return StageResult::Fail(history.status());
  return StageResult::Ok(
      {{"history", FormatHistory(*history)}, {"exchanges", absl::StrCat(history->size())}});
}

StageResult MemoryWriteStage::Write(StageContext& context) {
  const std::string from = context.Parameter("from", "llm");
  const DependencyResult* source = context.dependency(from);
  if (source == nullptr || source->outcome != StageOutcome::kOk) {
    return StageResult::Skip(absl::StrCat("no reply from '", from, "' to save"));
  }
  const std::string reply = context.Input(from, "reply");
  if (reply.empty()) return StageResult::Skip("empty reply");
  Exchange exchange{environment_->turn_id(), context.Input(from, "user_text"), reply, false};
  if (absl::Status status = memory_->Record(environment_->session_id(), std::move(exchange));
      !status.ok()) {
    return StageResult::Fail(status);
  }
  return StageResult::Ok({{"saved_turn", absl::StrCat(environment_->turn_id())}});
}

StageFactories MakeStageFactories(TurnEnvironment* environment, const Backend* stt,
                                  const Backend* tts, ConversationMemory* memory) {
  StageFactories factories;
  factories["stt"] = [=](const v1::StageSpec&) {
    return std::make_unique<SttStage>(environment, stt);
  };
  factories["tts"] = [=](const v1::StageSpec&) {
    return std::make_unique<TtsStage>(environment, tts);
  };
  factories["llm"] = [=](const v1::StageSpec&) { return std::make_unique<LlmStage>(environment); };
  factories["memory_fetch"] = [=](const v1::StageSpec&) {
    return std::make_unique<MemoryFetchStage>(environment, memory);
  };
  factories["memory_write"] = [=](const v1::StageSpec&) {
    return std::make_unique<MemoryWriteStage>(environment, memory);
  };
  return factories;
}

const std::set<std::string>& BuiltInStageTypes() {
  static const std::set<std::string>* const types =
      new std::set<std::string>{"stt", "tts", "llm", "memory_fetch", "memory_write"};
  return *types;
}

}  // namespace voxflow::orchestrator
