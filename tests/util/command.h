// Runs a command-line program as a child process for tests: captures its stdout and stderr and
// waits for its exit with a deadline (a child still running then is killed).
#ifndef VOXFLOW_TESTS_UTIL_COMMAND_H_
#define VOXFLOW_TESTS_UTIL_COMMAND_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace voxflow::testing {

struct CommandResult {
  int exit_code = -1;  // 128+N when killed by signal N.
  std::string out;
  std::string err;
};

// DEADLINE_EXCEEDED if `binary` has not exited within `timeout` (it is killed then).
absl::StatusOr<CommandResult> RunCommand(const std::string& binary,
                                         const std::vector<std::string>& args,
                                         absl::Duration timeout = absl::Seconds(60));

}  // namespace voxflow::testing

#endif  // VOXFLOW_TESTS_UTIL_COMMAND_H_
