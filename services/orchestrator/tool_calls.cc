#include "services/orchestrator/tool_calls.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/logging.h"

namespace voxflow::orchestrator {

ToolCalls::~ToolCalls() {
  std::map<std::string, Call> calls;
  {
    std::lock_guard<std::mutex> lock(mu_);
    calls.swap(calls_);
  }
  for (auto& [id, call] : calls) {
    timers_->Cancel(call.timer);
    if (call.cancel != nullptr) call.cancel->RemoveCallback(call.cancel_callback);
  }
}

absl::Status ToolCalls::Open(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!calls_.emplace(id, Call{}).second) {
    return absl::AlreadyExistsError(
        absl::StrCat("tool call ", QuoteClientValue(id), " is already waiting for its result"));
  }
  return absl::OkStatus();
}

void ToolCalls::Await(const std::string& id, absl::Duration timeout,
                      const std::shared_ptr<CancellationToken>& cancel, LlmToolAnswerSink sink) {
  std::optional<LlmToolAnswer> early;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = calls_.find(id);
    if (it == calls_.end()) {
      early = LlmToolAnswer{"", absl::StrCat("tool call ", id, " was not opened")};
    } else if (it->second.answer.has_value()) {
      early = std::move(it->second.answer);
      calls_.erase(it);
    } else {
      it->second.sink = std::move(sink);
    }
  }
  if (early.has_value()) {
    if (sink) sink(*std::move(early));
    return;
  }
  // The timer and the cancel callback find the call by id: whichever comes first delivers.
  const int64_t timer = timers_->Schedule(absl::Now() + timeout, [this, id, timeout] {
    Deliver(id,
            LlmToolAnswer{"", absl::StrCat("the caller did not answer within ",
                                           absl::ToInt64Milliseconds(timeout), " ms")},
            /*from_cancel=*/false);
  });
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = calls_.find(id);
    if (it != calls_.end()) {
      it->second.timer = timer;
      it->second.cancel = cancel;
    }
  }
  // Answered meanwhile: nothing may call back into this object later.
  auto gone = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_.find(id) == calls_.end();
  };
  if (gone()) {
    timers_->Cancel(timer);
    return;
  }
  const int64_t callback = cancel->OnCancel([this, id](const absl::Status&) {
    Deliver(id, LlmToolAnswer{"", "cancelled"}, /*from_cancel=*/true);
  });
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = calls_.find(id);
    if (it != calls_.end()) {
      it->second.cancel_callback = callback;
      return;
    }
  }
  cancel->RemoveCallback(callback);
}

void ToolCalls::Deliver(const std::string& id, LlmToolAnswer answer, bool from_cancel) {
  Call call;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = calls_.find(id);
    if (it == calls_.end() || !it->second.sink) return;
    call = std::move(it->second);
    calls_.erase(it);
  }
  timers_->Cancel(call.timer);  // Not waiting when it is the timer's own callback.
  if (!from_cancel && call.cancel != nullptr) call.cancel->RemoveCallback(call.cancel_callback);
  call.sink(std::move(answer));
}

absl::Status ToolCalls::Answer(const std::string& id, LlmToolAnswer answer) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = calls_.find(id);
    if (it == calls_.end() || it->second.answer.has_value()) {
      return absl::NotFoundError(absl::StrCat("tool_result.id ", QuoteClientValue(id),
                                              " answers no waiting tool call (it timed out, "
                                              "was cancelled or never made)"));
    }
    if (!it->second.sink) {  // Before Await: kept for it.
      it->second.answer = std::move(answer);
      return absl::OkStatus();
    }
  }
  Deliver(id, std::move(answer), /*from_cancel=*/false);
  return absl::OkStatus();
}

}  // namespace voxflow::orchestrator
