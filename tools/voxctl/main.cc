// voxctl: the command-line client for Voxflow's services.
//
//   voxctl health --target=HOST:PORT[,HOST:PORT...]
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "tools/voxctl/health_check.h"

ABSL_FLAG(std::vector<std::string>, target, {"127.0.0.1:50050"},
          "Server address(es), HOST:PORT, comma-separated.");
ABSL_FLAG(std::string, service, "", "Service to check (empty: the whole server).");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(5), "Deadline of each call.");

namespace {

constexpr char kUsage[] =
    "voxctl COMMAND [flags]\n\n"
    "Commands:\n"
    "  health   grpc.health.v1 status of each --target\n";

int Health() {
  int failures = 0;
  for (const std::string& target : absl::GetFlag(FLAGS_target)) {
    absl::StatusOr<std::string> status = voxflow::voxctl::CheckHealth(
        target, absl::GetFlag(FLAGS_service), absl::GetFlag(FLAGS_timeout));
    if (!status.ok()) {
      std::fprintf(stderr, "voxctl health: %s\n", std::string(status.status().message()).c_str());
      ++failures;
      continue;
    }
    std::printf("%-24s %s\n", target.c_str(), status->c_str());
    if (*status != "SERVING") ++failures;
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string command = args[1];
  if (command == "health") return Health();
  std::fprintf(stderr, "voxctl: unknown command '%s'\n\n%s", command.c_str(), kUsage);
  return 2;
}
