// The stt stage: streams the turn's utterance to the STT service as the caller speaks it, and
// the service's transcripts back to the session. Event-driven: each input frame is written to the
// backend stream by the thread that appended it to the utterance, and each response is handled
// on the gRPC thread that read it, so an attempt holds no thread while the caller speaks.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_STT_STAGE_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_STT_STAGE_H_

#include <memory>
#include <mutex>
#include <vector>

#include "services/common/backend.h"
#include "services/orchestrator/pipeline/stage.h"
#include "services/orchestrator/stages/turn_environment.h"

namespace voxflow::orchestrator {

// Outputs: transcript. SKIP for a typed turn or a turn without audio. Retryable backend errors
// (UNAVAILABLE, ...) return RETRY, and so do a backend not reachable within its connect timeout
// and one that answers nothing for max(`stall_timeout_ms` (parameter, default 3000), twice the
// utterance) after its end; the next attempt replays the audio already sent, so a retry loses
// nothing.
class SttStage final : public AsyncStage {
 public:
  SttStage(TurnEnvironment* environment, const Backend* backend)
      : environment_(environment), backend_(backend) {}
  void Start(std::shared_ptr<StageContext> context, Done done) override;

  // Input the attempts have taken from the utterance, in order (replayed by a retry).
  struct Input {
    std::mutex mu;
    std::vector<InputItem> consumed;
    bool saw_end = false;
  };

 private:
  TurnEnvironment* const environment_;
  const Backend* const backend_;
  const std::shared_ptr<Input> input_ = std::make_shared<Input>();
};

}  // namespace voxflow::orchestrator

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_STAGES_STT_STAGE_H_
