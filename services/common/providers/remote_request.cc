#include "services/common/providers/remote_request.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/providers/provider_metrics.h"
#include "services/common/timer_queue.h"
#include "spdlog/spdlog.h"

namespace voxflow {

HttpRequest RemoteHttpRequest(const RemoteServerOptions& server, const std::string& path) {
  HttpRequest request;
  request.url = absl::StrCat(server.base_url, path);
  request.bearer_token = server.api_key;
  request.ca_file = server.ca_file;
  request.connect_timeout = server.connect_timeout;
  request.first_byte_timeout = server.first_byte_timeout;
  request.timeout = server.timeout;
  return request;
}

std::shared_ptr<RemoteRequest> RemoteRequest::Start(HttpRequest request, RetryPolicy policy,
                                                    std::string service, std::string provider,
                                                    Callbacks callbacks) {
  std::shared_ptr<RemoteRequest> remote(new RemoteRequest(
      std::move(request), policy, std::move(service), std::move(provider), std::move(callbacks)));
  remote->self_ = remote;
  remote->started_ = absl::Now();
  remote->Attempt();
  return remote;
}

RemoteRequest::RemoteRequest(HttpRequest request, RetryPolicy policy, std::string service,
                             std::string provider, Callbacks callbacks)
    : request_(std::move(request)),
      policy_(policy),
      service_(std::move(service)),
      provider_(std::move(provider)),
      callbacks_(std::move(callbacks)) {}

void RemoteRequest::Attempt() {
  if (callbacks_.on_attempt) callbacks_.on_attempt();
  std::weak_ptr<RemoteRequest> weak = weak_from_this();
  // The exchange for its own done callback, which can run on the loop's thread before Start has
  // returned here (a refused connection): then it finds none and the attempt's timings are not
  // observed.
  struct Holder {
    std::mutex mu;
    std::weak_ptr<HttpExchange> exchange;
  };
  auto holder = std::make_shared<Holder>();
  std::shared_ptr<HttpExchange> exchange =
      HttpExchange::Start(request_, callbacks_.on_body, [weak, holder](const absl::Status& status) {
        auto self = weak.lock();
        std::shared_ptr<HttpExchange> exchange;
        {
          std::lock_guard<std::mutex> lock(holder->mu);
          exchange = holder->exchange.lock();
        }
        if (self) self->OnAttemptDone(exchange, status);
      });
  {
    std::lock_guard<std::mutex> lock(holder->mu);
    holder->exchange = exchange;
  }
  bool abort;
  {
    std::lock_guard<std::mutex> lock(mu_);
    exchange_ = exchange;
    abort = aborted_;
  }
  if (abort) exchange->Abort();
}

void RemoteRequest::OnAttemptDone(const std::shared_ptr<HttpExchange>& exchange,
                                  const absl::Status& status) {
  if (exchange != nullptr && status.ok()) {
    const absl::Time now = absl::Now();
    provider_metrics::ObserveRequest(
        service_, provider_, now - exchange->started_at(),
        exchange->first_byte_at().value_or(now) - exchange->started_at());
  }
  if (status.ok() || status.code() == absl::StatusCode::kCancelled) return Finish(status);
  provider_metrics::CountFailedAttempt(service_, provider_,
                                       exchange != nullptr ? exchange->http_status() : 0, status);
  const bool may_retry = !callbacks_.may_retry || callbacks_.may_retry();
  // The budget counts the time the failed attempts took, not only the waits: a caller is
  // waiting, and a provider that hung until its timeout has used it up.
  const absl::Duration elapsed = absl::Now() - started_;
  std::optional<absl::Duration> wait =
      may_retry ? RetryDelay(policy_, status, retries_ + 1, elapsed) : std::nullopt;
  // A server that hung until its timeout is tried again only when a second wait as long still
  // fits in the budget.
  if (wait.has_value() && status.code() == absl::StatusCode::kDeadlineExceeded &&
      elapsed + *wait + request_.first_byte_timeout > policy_.budget) {
    wait.reset();
  }
  if (!wait.has_value()) return Finish(status);
  ++retries_;
  spdlog::info("{} provider {}: {}; trying again in {} ms", service_, provider_, status.ToString(),
               absl::ToInt64Milliseconds(*wait));
  std::weak_ptr<RemoteRequest> weak = weak_from_this();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!aborted_) {
      retry_timer_ = TimerQueue::Default().Schedule(absl::Now() + *wait, [weak] {
        if (auto self = weak.lock()) self->Attempt();
      });
      return;
    }
  }
  Finish(absl::CancelledError(absl::StrCat(request_.url, ": request aborted")));
}

void RemoteRequest::Abort() {
  std::shared_ptr<HttpExchange> exchange;
  int64_t timer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_) return;
    aborted_ = true;
    exchange = exchange_;
    timer = retry_timer_;
  }
  if (timer != 0 && TimerQueue::Default().Cancel(timer)) {
    Finish(absl::CancelledError(absl::StrCat(request_.url, ": request aborted")));
    return;
  }
  if (exchange != nullptr) exchange->Abort();
}

void RemoteRequest::Finish(const absl::Status& status) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_) return;
    done_ = true;
  }
  HttpExchange::Done done = std::move(callbacks_.on_done);
  std::shared_ptr<RemoteRequest> keep = std::move(self_);
  done(status);
}

}  // namespace voxflow
