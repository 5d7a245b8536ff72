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
  if (!channel->WaitForConnected(absl::ToChronoTime(absl::Now() + timeout))) {
    return absl::UnavailableError(
        absl::StrFormat("cannot reach the %s at %s (no connection within %s; is it running?)", what,
                        target, absl::FormatDuration(timeout)));
  }
  return channel;
}

absl::Status FromGrpc(const grpc::Status& status, const std::string& target) {
  if (status.ok()) return absl::OkStatus();
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  return absl::Status(code, absl::StrCat(target, " answered ", absl::StatusCodeToString(code), ": ",
                                         status.error_message()));
}

}  // namespace voxflow::voxctl
