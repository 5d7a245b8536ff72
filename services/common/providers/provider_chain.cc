#include "services/common/providers/provider_chain.h"

#include <utility>

#include "absl/strings/str_join.h"
#include "services/common/providers/provider_metrics.h"
#include "spdlog/spdlog.h"

namespace voxflow {

ProviderChain::ProviderChain(std::string service, std::vector<std::string> names,
                             BreakerOptions breaker, CircuitBreaker::Clock clock)
    : service_(std::move(service)), names_(std::move(names)) {
  for (const std::string& name : names_) {
    breakers_.push_back(std::make_unique<CircuitBreaker>(
        breaker, clock,
        [service = service_, name](CircuitBreaker::State from, CircuitBreaker::State to) {
          spdlog::warn("{} provider {} circuit breaker {} -> {}", service, name,
                       BreakerStateName(from), BreakerStateName(to));
          provider_metrics::SetBreakerState(service, name, to);
        }));
    provider_metrics::SetBreakerState(service_, name, CircuitBreaker::State::kClosed);
  }
}

std::string ProviderChain::Describe() const { return absl::StrJoin(names_, ", "); }

size_t ProviderChain::First(absl::string_view requested) {
  size_t start = 0;
  for (size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == requested) start = i;
  }
  return Pick(start);
}

std::optional<size_t> ProviderChain::Next(size_t current) {
  if (current + 1 >= names_.size()) return std::nullopt;
  return Pick(current + 1);
}

size_t ProviderChain::Pick(size_t start) {
  for (size_t i = start; i + 1 < names_.size(); ++i) {
    if (breakers_[i]->Allow()) return i;
  }
  return names_.size() - 1;
}

void ProviderChain::RecordSuccess(size_t index) {
  provider_metrics::CountRequest(service_, names_[index], absl::OkStatus());
  breakers_[index]->RecordSuccess();
}

void ProviderChain::RecordFailure(size_t index, const absl::Status& failure,
                                  std::optional<size_t> to) {
  provider_metrics::CountRequest(service_, names_[index], failure);
  if (failure.code() != absl::StatusCode::kCancelled) breakers_[index]->RecordFailure();
  if (to.has_value()) {
    provider_metrics::CountSwitch(service_, names_[index], names_[*to]);
    spdlog::warn("{} provider {} failed ({}); {} serves it", service_, names_[index],
                 failure.ToString(), names_[*to]);
  }
}

}  // namespace voxflow
