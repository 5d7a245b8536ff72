// Asks a server for its grpc.health.v1 status.
#ifndef VOXFLOW_TOOLS_VOXCTL_HEALTH_CHECK_H_
#define VOXFLOW_TOOLS_VOXCTL_HEALTH_CHECK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"

namespace voxflow::voxctl {

// Returns "SERVING", "NOT_SERVING", ... for `service` ("" is the whole server) at `target`, or
// UNAVAILABLE naming the address when it cannot be reached within `timeout`.
absl::StatusOr<std::string> CheckHealth(
    const std::string& target, const std::string& service, absl::Duration timeout,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials = nullptr);

}  // namespace voxflow::voxctl

#endif  // VOXFLOW_TOOLS_VOXCTL_HEALTH_CHECK_H_
