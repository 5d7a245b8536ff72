// voxctl's commands as plain functions: they print results to `out` and return what went wrong
// (with messages fit for the user: which file, which address, what the server said).
#ifndef VOXFLOW_TOOLS_VOXCTL_COMMANDS_H_
#define VOXFLOW_TOOLS_VOXCTL_COMMANDS_H_

#include <memory>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"

namespace voxflow::voxctl {

struct Endpoint {
  std::string target;  // HOST:PORT or any gRPC target.
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration timeout = absl::Minutes(5);              // Deadline of each call.
  std::shared_ptr<grpc::ChannelCredentials> credentials;  // Null: plaintext.
};

struct ConverseCommand {
  Endpoint endpoint;
  std::string in_path;
  std::string out_path;  // Empty: the reply audio is not written.
  bool realtime = false;
  bool hands_free = false;
  bool json = false;
  bool terminal = false;  // `out` is a terminal: draw a progress bar.
  int sample_rate = 16000;
  std::string language;
  std::string voice;
  std::string pipeline;
  bool telemetry = false;
};
absl::Status Converse(const ConverseCommand& command, std::ostream& out);

absl::Status Transcribe(const Endpoint& endpoint, const std::string& path,
                        const std::string& language, std::ostream& out);

struct SynthesizeCommand {
  Endpoint endpoint;
  std::string text;
  std::string out_path;
  std::string voice;
  std::string language;
  int sample_rate = 22050;
};
absl::Status Synthesize(const SynthesizeCommand& command, std::ostream& out);

absl::Status ListVoices(const Endpoint& endpoint, const std::string& language, std::ostream& out);

}  // namespace voxflow::voxctl

#endif  // VOXFLOW_TOOLS_VOXCTL_COMMANDS_H_
