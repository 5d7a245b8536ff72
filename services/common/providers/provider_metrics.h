// Metrics of the speech providers behind the STT and TTS services:
//   voxflow_provider_requests_total{service,provider,outcome}   outcome: ok or a status code name
//   voxflow_provider_switches_total{service,from,to}             a request served by the next one
//   voxflow_provider_breaker_state{service,provider}             0 closed, 1 open, 2 half-open
//   voxflow_provider_request_seconds{service,provider}           request sent -> answer complete
//   voxflow_provider_first_byte_seconds{service,provider}        request sent -> first byte
//   voxflow_provider_failed_attempts_total{service,provider,status}  every failed attempt,
//       retried or not: the HTTP status it answered ("429", "503"), else what went wrong
//       ("unavailable": refused or cut off, "deadline_exceeded", "internal": malformed)
#ifndef VOXFLOW_SERVICES_COMMON_PROVIDERS_PROVIDER_METRICS_H_
#define VOXFLOW_SERVICES_COMMON_PROVIDERS_PROVIDER_METRICS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/common/providers/circuit_breaker.h"

namespace voxflow::provider_metrics {

void CountRequest(const std::string& service, const std::string& provider,
                  const absl::Status& outcome);
void CountSwitch(const std::string& service, const std::string& from, const std::string& to);
void SetBreakerState(const std::string& service, const std::string& provider,
                     CircuitBreaker::State state);
void CountFailedAttempt(const std::string& service, const std::string& provider, long http_status,
                        const absl::Status& failure);
void ObserveRequest(const std::string& service, const std::string& provider, absl::Duration request,
                    absl::Duration first_byte);

}  // namespace voxflow::provider_metrics

#endif  // VOXFLOW_SERVICES_COMMON_PROVIDERS_PROVIDER_METRICS_H_
