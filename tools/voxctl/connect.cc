#include "tools/voxctl/connect.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace voxflow::voxctl {

absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(
    const std::string& target, const std::string& what, absl::Duration timeout,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
      target, credentials != nullptr ? credentials : grpc::InsecureChannelCredentials(), args);
  // Fail fast: a refused connection (or a failed handshake) is TRANSIENT_FAILURE at once, and
  // waiting for the whole timeout would only retry it. It gets one more attempt (100 ms later,
  // up to a second): gRPC 1.51 can read a clobbered errno after connect() and fail an attempt
  // to a live server (grpc/grpc#35064; seen under TSan). The state stays TRANSIENT_FAILURE
  // meanwhile, unless that attempt succeeds.
  const absl::Time deadline = absl::Now() + timeout;
  grpc_connectivity_state state = channel->GetState(/*try_to_connect=*/true);
  bool retried = false;
  while (state != GRPC_CHANNEL_READY) {
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE && retried) {
      return absl::UnavailableError(absl::StrFormat(
          "cannot reach the %s at %s: the connection failed (refused, unreachable, or a TLS "
          "mismatch; is it running there?)",
          what, target));
    }
    absl::Time wait_until = deadline;
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE) {
      retried = true;
      wait_until = std::min(deadline, absl::Now() + absl::Seconds(1));
    }
    if (!channel->WaitForStateChange(state, absl::ToChronoTime(wait_until))) {
      if (state == GRPC_CHANNEL_TRANSIENT_FAILURE && wait_until < deadline) continue;
      return absl::UnavailableError(
          absl::StrFormat("cannot reach the %s at %s (no connection within %s; is it running?)",
                          what, target, absl::FormatDuration(timeout)));
    }
    state = channel->GetState(/*try_to_connect=*/true);
  }
  return channel;
}

absl::Status FromGrpc(const grpc::Status& status, const std::string& target,
                      absl::string_view expected) {
  if (status.ok()) return absl::OkStatus();
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  if (code == absl::StatusCode::kUnimplemented && status.error_message().empty() &&
      !expected.empty()) {
    return absl::UnimplementedError(
        absl::StrCat(target, " answered UNIMPLEMENTED: it does not serve ", expected,
                     ". Is --target a Voxflow server of that kind?"));
  }
  return absl::Status(code, absl::StrCat(target, " answered ", absl::StatusCodeToString(code), ": ",
                                         status.error_message()));
}

}  // namespace voxflow::voxctl
