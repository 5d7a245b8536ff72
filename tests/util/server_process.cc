#include "tests/util/server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

extern char** environ;

namespace voxflow::testing {
namespace {

// Milliseconds left until `deadline`, for poll().
int RemainingMs(absl::Time deadline) {
  const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
  return ms < 0 ? 0 : static_cast<int>(ms);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    const std::string& binary, const std::vector<std::string>& args, absl::Duration startup,
    const std::string& stderr_path) {
  std::vector<std::string> argv = {binary, "--host=127.0.0.1", "--port=0"};
  argv.insert(argv.end(), args.begin(), args.end());
  return Launch(std::move(argv), "", startup, stderr_path);
}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::StartCommand(
    const std::vector<std::string>& argv, const std::string& ready_marker, absl::Duration startup,
    const std::string& stderr_path) {
  return Launch(argv, ready_marker, startup, stderr_path);
}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Launch(
    std::vector<std::string> argv_storage, const std::string& ready_marker, absl::Duration startup,
    const std::string& stderr_path) {
  const std::string binary = argv_storage.front();
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");

  std::vector<char*> argv;
  for (std::string& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  if (!stderr_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  // The child must not inherit the test's blocked signal mask or SIGTERM could never reach it.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty;
  sigemptyset(&empty);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = 0;
  const int error = posix_spawn(&pid, binary.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(out[1]);
  if (error != 0) {
    close(out[0]);
    return absl::InternalError(absl::StrCat("cannot start ", binary, ": ", std::strerror(error)));
  }
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  std::unique_ptr<ServerProcess> process(new ServerProcess(pid, pidfd, out[0]));
  if (pidfd < 0) return absl::InternalError("pidfd_open failed");

  // Read stdout until the "listening on HOST:PORT" line, the child's exit, or the deadline.
  const absl::Time deadline = absl::Now() + startup;
  std::string line;
  while (true) {
    pollfd fds[2] = {{out[0], POLLIN, 0}, {pidfd, POLLIN, 0}};
    const int ready = poll(fds, 2, RemainingMs(deadline));
    if (ready == 0) {
      return absl::DeadlineExceededError(absl::StrCat(binary, " did not print its address within ",
                                                      absl::FormatDuration(startup)));
    }
    if (ready < 0 && errno == EINTR) continue;
    char c;
    if ((fds[0].revents & (POLLIN | POLLHUP)) != 0) {
      const ssize_t n = read(out[0], &c, 1);
      if (n == 1) {
        process->output_.push_back(c);
        if (c != '\n') {
          line.push_back(c);
          continue;
        }
        if (!ready_marker.empty() && line.find(ready_marker) != std::string::npos) {
          return process;
        }
        const size_t at = line.rfind(':');
        if (line.find(" metrics on ") != std::string::npos && at != std::string::npos) {
          (void)absl::SimpleAtoi(line.substr(at + 1), &process->metrics_port_);
        }
        if (line.find(" http on ") != std::string::npos && at != std::string::npos) {
          (void)absl::SimpleAtoi(line.substr(at + 1), &process->http_port_);
        }
        if (ready_marker.empty() && line.find(" listening on ") != std::string::npos &&
            at != std::string::npos && absl::SimpleAtoi(line.substr(at + 1), &process->port_)) {
          return process;
        }
        line.clear();
        continue;
      }
    }
    if ((fds[1].revents & POLLIN) != 0 || (fds[0].revents & POLLHUP) != 0) {
      absl::StatusOr<int> code = process->WaitForExit(absl::Seconds(5));
      return absl::InternalError(absl::StrCat(binary, " exited before listening (exit code ",
                                              code.ok() ? *code : -1, ")"));
    }
  }
}

ServerProcess::~ServerProcess() {
  if (!exit_code_.has_value()) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (pidfd_ >= 0) close(pidfd_);
  close(stdout_fd_);
}

std::string ServerProcess::ReadOutput(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  char buffer[4096];
  while (true) {
    pollfd fd = {stdout_fd_, POLLIN, 0};
    const int ready = poll(&fd, 1, RemainingMs(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    const ssize_t n = read(stdout_fd_, buffer, sizeof(buffer));
    if (n <= 0) break;  // Closed.
    output_.append(buffer, static_cast<size_t>(n));
  }
  return output_;
}

void ServerProcess::Signal(int signal) {
  if (!exit_code_.has_value()) kill(pid_, signal);
}

absl::StatusOr<int> ServerProcess::WaitForExit(absl::Duration timeout) {
  if (exit_code_.has_value()) return *exit_code_;
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    pollfd fd = {pidfd_, POLLIN, 0};
    const int ready = poll(&fd, 1, RemainingMs(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("process ", pid_, " still running after ", absl::FormatDuration(timeout)));
    }
    int status = 0;
    if (waitpid(pid_, &status, 0) != pid_) return absl::InternalError("waitpid failed");
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return *exit_code_;
  }
}

}  // namespace voxflow::testing
