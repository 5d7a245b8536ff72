// RemoteRequest: one request to a remote speech provider, tried again as RetryPolicy allows
// (a 429 after its Retry-After, a 5xx or timeout after a short backoff) and timed into the
// provider metrics. On the CurlLoop and the TimerQueue: nothing waits on a thread.
#ifndef VOXFLOW_SERVICES_COMMON_PROVIDERS_REMOTE_REQUEST_H_
#define VOXFLOW_SERVICES_COMMON_PROVIDERS_REMOTE_REQUEST_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/common/http/http_exchange.h"
#include "services/common/providers/retry_policy.h"

namespace voxflow {

// An OpenAI-compatible server as the STT and TTS providers reach it.
struct RemoteServerOptions {
  std::string base_url;  // E.g. "http://127.0.0.1:8000/v1".
  std::string model;
  std::string api_key;  // Bearer token; never logged.
  std::string ca_file;
  absl::Duration connect_timeout = absl::Seconds(2);
  // No answer begun by then: the provider has failed (a fallback serves the caller).
  absl::Duration first_byte_timeout = absl::Milliseconds(2500);
  absl::Duration timeout = absl::Seconds(60);
  RetryPolicy retry;
};

// A request to `path` ("/audio/speech") of `server`, the rest left to fill.
HttpRequest RemoteHttpRequest(const RemoteServerOptions& server, const std::string& path);

class RemoteRequest : public std::enable_shared_from_this<RemoteRequest> {
 public:
  struct Callbacks {
    std::function<void()> on_attempt;  // Before each attempt (a fresh parser).
    HttpExchange::BodySink on_body;    // The loop's thread.
    // Whether a failed attempt may be tried again (false once its answer was passed on).
    std::function<bool()> may_retry;
    HttpExchange::Done on_done;  // Once: the last attempt's outcome.
  };

  // `service`/`provider` label the metrics.
  static std::shared_ptr<RemoteRequest> Start(HttpRequest request, RetryPolicy policy,
                                              std::string service, std::string provider,
                                              Callbacks callbacks);
  // Any thread: on_done follows with CANCELLED (unless it ran already).
  void Abort();

 private:
  RemoteRequest(HttpRequest request, RetryPolicy policy, std::string service, std::string provider,
                Callbacks callbacks);
  void Attempt();
  void OnAttemptDone(const std::shared_ptr<HttpExchange>& exchange, const absl::Status& status);
  void Finish(const absl::Status& status);

  const HttpRequest request_;
  const RetryPolicy policy_;
  const std::string service_;
  const std::string provider_;
  Callbacks callbacks_;
  std::shared_ptr<RemoteRequest> self_;  // Until on_done.
  std::mutex mu_;
  std::shared_ptr<HttpExchange> exchange_;
  int64_t retry_timer_ = 0;
  int retries_ = 0;
  absl::Time started_;
  bool aborted_ = false;
  bool done_ = false;
};

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_PROVIDERS_REMOTE_REQUEST_H_
