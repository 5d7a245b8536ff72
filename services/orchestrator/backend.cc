#include "services/orchestrator/backend.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace voxflow::orchestrator {

Backend::Backend(std::string name, std::string target, BackendOptions options)
    : name_(std::move(name)), target_(std::move(target)), options_(options) {
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(R"({"loadBalancingConfig": [{"round_robin": {}}]})");
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options_.keepalive_time)));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options_.keepalive_timeout)));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options_.initial_reconnect_backoff)));
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options_.initial_reconnect_backoff)));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options_.max_reconnect_backoff)));
  channel_ = grpc::CreateCustomChannel(
      target_,
      options_.credentials != nullptr ? options_.credentials : grpc::InsecureChannelCredentials(),
      args);
}

absl::Status Backend::WaitUntilReady(const CancellationToken& cancel) const {
  const absl::Time deadline = absl::Now() + options_.connect_timeout;
  grpc_connectivity_state state = channel_->GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY) {
    if (cancel.cancelled()) return cancel.reason();
    const absl::Time now = absl::Now();
    if (now >= deadline) {
      return absl::UnavailableError(
          absl::StrCat(name_, " backend ", target_, " is not reachable (waited ",
                       absl::ToInt64Milliseconds(options_.connect_timeout), " ms)"));
    }
    // Short steps, so that a cancellation is noticed quickly.
    const absl::Time step = std::min(deadline, now + absl::Milliseconds(50));
    if (!channel_->WaitForStateChange(state, absl::ToChronoTime(step))) {
      state = channel_->GetState(/*try_to_connect=*/true);
      continue;
    }
    state = channel_->GetState(/*try_to_connect=*/true);
  }
  return absl::OkStatus();
}

}  // namespace voxflow::orchestrator
