// Channels to Voxflow's services and errors that say which address failed.
#ifndef VOXFLOW_TOOLS_VOXCTL_CONNECT_H_
#define VOXFLOW_TOOLS_VOXCTL_CONNECT_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/status.h"

namespace voxflow::voxctl {

// A channel to `target` that is connected: UNAVAILABLE "cannot reach the <what> at <target>" when
// no connection comes up within `timeout`.
// `credentials` null: plaintext.
absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(
    const std::string& target, const std::string& what, absl::Duration timeout,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials = nullptr);

// A call's status as an absl::Status whose message names the server and keeps its message.
// `expected` names what the call needed ("the TTS service (voxflow.v1.TextToSpeech)"): said when
// the server answers UNIMPLEMENTED with no message, i.e. it is some other gRPC server.
absl::Status FromGrpc(const grpc::Status& status, const std::string& target,
                      absl::string_view expected = "");

}  // namespace voxflow::voxctl

#endif  // VOXFLOW_TOOLS_VOXCTL_CONNECT_H_
