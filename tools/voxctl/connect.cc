#include "tools/voxctl/connect.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace voxflow::voxctl {

absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(
    const std::string& target, const std::string& what, absl::Duration timeout,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
  std::shared_ptr<grpc::Channel> channel = grpc::CreateChannel(
      target, credentials != nullptr ? credentials : grpc::InsecureChannelCredentials());
  // Fail fast: a refused connection (or a failed handshake) is TRANSIENT_FAILURE at once, and
  // waiting for the whole timeout would only retry it.
  const auto deadline = absl::ToChronoTime(absl::Now() + timeout);
  grpc_connectivity_state state = channel->GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY) {
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE) {
      return absl::UnavailableError(absl::StrFormat(
          "cannot reach the %s at %s: the connection failed (refused, unreachable, or a TLS "
          "mismatch; is it running there?)",
          what, target));
    }
    if (!channel->WaitForStateChange(state, deadline)) {
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
