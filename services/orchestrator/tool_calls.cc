#include "services/orchestrator/tool_calls.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/logging.h"

namespace voxflow::orchestrator {

absl::Status ToolCalls::Open(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!waiting_.emplace(id, std::nullopt).second) {
    return absl::AlreadyExistsError(
        absl::StrCat("tool call ", QuoteClientValue(id), " is already waiting for its result"));
  }
  return absl::OkStatus();
}

std::optional<LlmToolAnswer> ToolCalls::Wait(const std::string& id, absl::Duration timeout,
                                             const CancellationToken& cancel) {
  // The cancel callback takes mu_ before notifying, so a wake cannot fall between the check
  // and the wait below.
  const int64_t wake = cancel.OnCancel([this](const absl::Status&) {
    { std::lock_guard<std::mutex> lock(mu_); }
    changed_.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu_);
  const auto deadline = absl::ToChronoTime(absl::Now() + timeout);
  changed_.wait_until(lock, deadline, [&] {
    auto it = waiting_.find(id);
    return cancel.cancelled() || it == waiting_.end() || it->second.has_value();
  });
  std::optional<LlmToolAnswer> answer;
  if (auto it = waiting_.find(id); it != waiting_.end()) {
    answer = std::move(it->second);
    waiting_.erase(it);
  }
  lock.unlock();
  cancel.RemoveCallback(wake);
  if (answer.has_value()) return answer;
  if (cancel.cancelled()) return std::nullopt;
  return LlmToolAnswer{"", absl::StrCat("the caller did not answer within ",
                                        absl::ToInt64Milliseconds(timeout), " ms")};
}

absl::Status ToolCalls::Answer(const std::string& id, LlmToolAnswer answer) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = waiting_.find(id);
    if (it == waiting_.end() || it->second.has_value()) {
      return absl::NotFoundError(absl::StrCat("tool_result.id ", QuoteClientValue(id),
                                              " answers no waiting tool call (it timed out, "
                                              "was cancelled or never made)"));
    }
    it->second = std::move(answer);
  }
  changed_.notify_all();
  return absl::OkStatus();
}

}  // namespace voxflow::orchestrator
