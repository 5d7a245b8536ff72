#include "services/orchestrator/pipeline/stage.h"

#include <condition_variable>
#include <mutex>
#include <optional>

namespace voxflow::orchestrator {

absl::string_view StageOutcomeName(StageOutcome outcome) {
  switch (outcome) {
    case StageOutcome::kOk:
      return "OK";
    case StageOutcome::kSkip:
      return "SKIP";
    case StageOutcome::kFail:
      return "FAIL";
    case StageOutcome::kCancel:
      return "CANCEL";
    case StageOutcome::kRetry:
      return "RETRY";
  }
  return "?";
}

StageResult AsyncStage::Run(StageContext& context) {
  // Not owned: Run returns only after `done`, when the attempt no longer uses it.
  std::shared_ptr<StageContext> borrowed(std::shared_ptr<void>(), &context);
  std::mutex mu;
  std::condition_variable finished;
  std::optional<StageResult> result;
  Start(borrowed, [&](StageResult r) {
    std::lock_guard<std::mutex> lock(mu);
    result = std::move(r);
    finished.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu);
  finished.wait(lock, [&] { return result.has_value(); });
  return *std::move(result);
}

std::string StageContext::Parameter(absl::string_view key, absl::string_view fallback) const {
  auto it = spec_->parameters().find(std::string(key));
  return it == spec_->parameters().end() ? std::string(fallback) : it->second;
}

const DependencyResult* StageContext::dependency(absl::string_view name) const {
  auto it = dependencies_.find(std::string(name));
  return it == dependencies_.end() ? nullptr : &it->second;
}

std::string StageContext::Input(absl::string_view name, absl::string_view key) const {
  const DependencyResult* result = dependency(name);
  if (result == nullptr) return "";
  auto it = result->outputs.find(std::string(key));
  return it == result->outputs.end() ? "" : it->second;
}

TextStream* StageContext::StreamFrom(absl::string_view name) const {
  auto it = streams_in_.find(std::string(name));
  return it == streams_in_.end() ? nullptr : it->second.get();
}

bool StageContext::StreamOut(std::string item) {
  bool delivered = false;
  for (size_t i = 0; i < streams_out_.size(); ++i) {
    std::string copy = i + 1 == streams_out_.size() ? std::move(item) : item;
    // Waits in short steps so that a cancelled turn never leaves a producer blocked on a full
    // edge.
    while (!cancelled()) {
      if (streams_out_[i]->Put(std::move(copy), absl::Now() + absl::Milliseconds(50))) {
        delivered = true;
        break;
      }
      if (streams_out_[i]->closed()) break;
    }
  }
  return delivered && !cancelled();
}

}  // namespace voxflow::orchestrator
