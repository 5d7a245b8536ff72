#include "services/common/stream_limit.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "services/common/metrics.h"
#include "services/common/security.h"

namespace voxflow {

std::string ClientKey(const grpc::CallbackServerContext& context) {
  if (std::shared_ptr<const grpc::AuthContext> auth = context.auth_context(); auth != nullptr) {
    for (const grpc::string_ref& value : auth->FindPropertyValues(kClientTokenProperty)) {
      return absl::StrCat("token:", absl::string_view(value.data(), value.size()));
    }
  }
  // "ipv4:10.0.0.7:51234", "ipv6:[::1]:51234": the address without the port.
  const std::string peer = context.peer();
  const absl::string_view view(peer);
  if (absl::StartsWith(view, "ipv4:") || absl::StartsWith(view, "ipv6:")) {
    if (size_t colon = view.rfind(':'); colon != absl::string_view::npos && colon > 5) {
      return std::string(view.substr(0, colon));
    }
  }
  return peer;
}

namespace {
prometheus::Counter& RefusedCounter(const std::string& service, const std::string& limit) {
  static auto& family = prometheus::BuildCounter()
                            .Name("voxflow_streams_refused_total")
                            .Help("Streams refused with RESOURCE_EXHAUSTED, by the limit reached.")
                            .Register(MetricsRegistry());
  return family.Add({{"service", service}, {"limit", limit}});
}
}  // namespace

StreamLimit::StreamLimit(int max_streams, int max_per_client, const std::string& service)
    : max_(max_streams),
      max_per_client_(max_per_client),
      gauge_(ActiveStreamsGauge(service)),
      refused_total_(RefusedCounter(service, "total")),
      refused_per_client_(RefusedCounter(service, "per_client")) {}

absl::Status StreamLimit::Admit(const std::string& client) {
  std::lock_guard<std::mutex> lock(mu_);
  ++active_;
  const int of_client = ++per_client_[client];
  gauge_.Set(std::min(active_, max_));
  if (active_ > max_) {
    refused_total_.Increment();
    return absl::ResourceExhaustedError(
        absl::StrCat("too many concurrent streams (limit ", max_, ")"));
  }
  if (max_per_client_ > 0 && of_client > max_per_client_) {
    refused_per_client_.Increment();
    return absl::ResourceExhaustedError(absl::StrCat(
        "too many concurrent streams from this client (limit ", max_per_client_, " per client)"));
  }
  return absl::OkStatus();
}

void StreamLimit::Release(const std::string& client) {
  std::lock_guard<std::mutex> lock(mu_);
  --active_;
  if (auto it = per_client_.find(client); it != per_client_.end() && --it->second <= 0) {
    per_client_.erase(it);
  }
  gauge_.Set(std::min(active_, max_));
}

int StreamLimit::active() const {
  std::lock_guard<std::mutex> lock(mu_);
  return active_;
}

}  // namespace voxflow
