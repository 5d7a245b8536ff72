// ProviderChain: the providers a service runs, in the order it falls back through them
// (--providers=openai,pocketsphinx), each behind its circuit breaker. A request starts at the
// provider its config names (or the first) and moves to the next when one fails; a provider
// whose breaker is open is skipped, except the last, which always serves (the offline engine
// that keeps a call going when every remote one is down). Switches and breaker changes are
// logged and counted (provider_metrics.h). Thread-safe.
#ifndef VOXFLOW_SERVICES_COMMON_PROVIDERS_PROVIDER_CHAIN_H_
#define VOXFLOW_SERVICES_COMMON_PROVIDERS_PROVIDER_CHAIN_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "services/common/providers/circuit_breaker.h"

namespace voxflow {

class ProviderChain {
 public:
  // `service` names the metrics' and logs' service ("stt", "tts"); `names` is non-empty.
  ProviderChain(std::string service, std::vector<std::string> names, BreakerOptions breaker,
                CircuitBreaker::Clock clock);

  const std::vector<std::string>& names() const { return names_; }
  const std::string& name(size_t index) const { return names_[index]; }
  size_t size() const { return names_.size(); }
  // "openai, pocketsphinx".
  std::string Describe() const;

  // The provider a request starts with.
  size_t First(absl::string_view requested);
  // The provider after `current` to fall back to (nullopt at the end of the chain).
  std::optional<size_t> Next(size_t current);

  void RecordSuccess(size_t index);
  // `failure` was the provider's; `to` serves the request now (nullopt: nothing left).
  void RecordFailure(size_t index, const absl::Status& failure, std::optional<size_t> to);

  CircuitBreaker::State breaker_state(size_t index) const { return breakers_[index]->state(); }

 private:
  // The first from `start` on that may serve now; the last one always may.
  size_t Pick(size_t start);

  const std::string service_;
  const std::vector<std::string> names_;
  std::vector<std::unique_ptr<CircuitBreaker>> breakers_;
};

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_PROVIDERS_PROVIDER_CHAIN_H_
