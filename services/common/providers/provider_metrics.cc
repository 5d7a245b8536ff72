#include "services/common/providers/provider_metrics.h"

#include "absl/strings/ascii.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "services/common/metrics.h"

namespace voxflow::provider_metrics {
namespace {

struct Families {
  prometheus::Family<prometheus::Counter>& requests =
      prometheus::BuildCounter()
          .Name("voxflow_provider_requests_total")
          .Help("Requests to speech providers, by outcome (ok or the status code).")
          .Register(MetricsRegistry());
  prometheus::Family<prometheus::Counter>& switches =
      prometheus::BuildCounter()
          .Name("voxflow_provider_switches_total")
          .Help("Utterances or sentences a provider failed and the next one in the chain served.")
          .Register(MetricsRegistry());
  prometheus::Family<prometheus::Counter>& failed_attempts =
      prometheus::BuildCounter()
          .Name("voxflow_provider_failed_attempts_total")
          .Help(
              "Failed attempts of requests to remote speech providers, retried or not, by HTTP "
              "status (or what went wrong when there was none).")
          .Register(MetricsRegistry());
  prometheus::Family<prometheus::Gauge>& breaker =
      prometheus::BuildGauge()
          .Name("voxflow_provider_breaker_state")
          .Help("A provider's circuit breaker: 0 closed, 1 open (skipped), 2 half-open (probed).")
          .Register(MetricsRegistry());
  prometheus::Family<prometheus::Histogram>& request_seconds =
      prometheus::BuildHistogram()
          .Name("voxflow_provider_request_seconds")
          .Help("A remote provider's request: sent -> answer complete.")
          .Register(MetricsRegistry());
  prometheus::Family<prometheus::Histogram>& first_byte_seconds =
      prometheus::BuildHistogram()
          .Name("voxflow_provider_first_byte_seconds")
          .Help("A remote provider's request: sent -> first byte of its answer.")
          .Register(MetricsRegistry());

  static Families& Get() {
    static auto* families = new Families();
    return *families;
  }
};

std::string CodeName(const absl::Status& status) {
  return status.ok() ? "ok" : absl::AsciiStrToLower(absl::StatusCodeToString(status.code()));
}

}  // namespace

void CountRequest(const std::string& service, const std::string& provider,
                  const absl::Status& outcome) {
  Families::Get()
      .requests.Add({{"service", service}, {"provider", provider}, {"outcome", CodeName(outcome)}})
      .Increment();
}

void CountSwitch(const std::string& service, const std::string& from, const std::string& to) {
  Families::Get().switches.Add({{"service", service}, {"from", from}, {"to", to}}).Increment();
}

void SetBreakerState(const std::string& service, const std::string& provider,
                     CircuitBreaker::State state) {
  const double value = state == CircuitBreaker::State::kClosed ? 0
                       : state == CircuitBreaker::State::kOpen ? 1
                                                               : 2;
  Families::Get().breaker.Add({{"service", service}, {"provider", provider}}).Set(value);
}

void CountFailedAttempt(const std::string& service, const std::string& provider, long http_status,
                        const absl::Status& failure) {
  const std::string status = http_status >= 300 ? std::to_string(http_status) : CodeName(failure);
  Families::Get()
      .failed_attempts.Add({{"service", service}, {"provider", provider}, {"status", status}})
      .Increment();
}

void ObserveRequest(const std::string& service, const std::string& provider, absl::Duration request,
                    absl::Duration first_byte) {
  Families& f = Families::Get();
  f.request_seconds.Add({{"service", service}, {"provider", provider}}, DurationBuckets())
      .Observe(absl::ToDoubleSeconds(request));
  f.first_byte_seconds.Add({{"service", service}, {"provider", provider}}, DurationBuckets())
      .Observe(absl::ToDoubleSeconds(first_byte));
}

}  // namespace voxflow::provider_metrics
