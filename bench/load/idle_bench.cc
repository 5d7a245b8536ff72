// What idle conversations cost the orchestrator: N Converse streams that sent only a config (a
// caller connected and silent, or gone quiet without hanging up). Measures the orchestrator's CPU
// and resident memory with them open against the same server with none (same run), and its
// thread count.
//   bazel run -c opt //bench/load:idle_bench -- --sessions=1000
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "tests/util/server_process.h"
#include "voxflow/v1/orchestrator.grpc.pb.h"

ABSL_FLAG(int, sessions, 1000, "Idle conversations to open.");
ABSL_FLAG(absl::Duration, measure, absl::Seconds(10), "How long CPU is measured each time.");

namespace voxflow {
namespace {

struct ProcessSample {
  double cpu_seconds = 0;  // utime + stime.
  int64_t rss_kib = 0;
  int threads = 0;
};

ProcessSample Sample(pid_t pid) {
  ProcessSample sample;
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) start after the last ')'.
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::vector<std::string> f((std::istream_iterator<std::string>(fields)),
                             std::istream_iterator<std::string>());
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  if (f.size() > 13) sample.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / ticks;
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) sample.rss_kib = std::stoll(line.substr(6));
    if (line.rfind("Threads:", 0) == 0) sample.threads = std::stoi(line.substr(8));
  }
  return sample;
}

// CPU share of one core over `period`, and the process's state at its end.
std::pair<double, ProcessSample> Measure(pid_t pid, absl::Duration period) {
  const ProcessSample before = Sample(pid);
  absl::SleepFor(period);
  const ProcessSample after = Sample(pid);
  return {(after.cpu_seconds - before.cpu_seconds) / absl::ToDoubleSeconds(period), after};
}

// One conversation that sends its config and then only listens.
class IdleConversation : public grpc::ClientBidiReactor<v1::ConverseRequest, v1::ConverseEvent> {
 public:
  IdleConversation(v1::Orchestrator::Stub* stub, const v1::SessionConfig& config)
      : state_(std::make_shared<State>()) {
    *request_.mutable_config() = config;
    stub->async()->Converse(&context_, this);
    StartWrite(&request_);
    StartRead(&event_);
    StartCall();
  }
  void Cancel() { context_.TryCancel(); }
  // Until the session started (true) or the call ended (false).
  bool WaitStarted() {
    std::unique_lock<std::mutex> lock(state_->mu);
    state_->cv.wait(lock, [&] { return state_->started || state_->done; });
    return state_->started;
  }
  void WaitDone() {
    std::unique_lock<std::mutex> lock(state_->mu);
    state_->cv.wait(lock, [&] { return state_->done; });
  }
  grpc::Status status() {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->status;
  }

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    bool started = false;
    bool done = false;
    grpc::Status status;
  };
  void OnWriteDone(bool) override {}
  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (event_.has_session_started()) {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->started = true;
      state_->cv.notify_all();
    }
    StartRead(&event_);
  }
  void OnDone(const grpc::Status& status) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->done = true;
    state_->status = status;
    state_->cv.notify_all();
  }

  std::shared_ptr<State> state_;
  grpc::ClientContext context_;
  v1::ConverseRequest request_;
  v1::ConverseEvent event_;
};

int Run() {
  auto stt = testing::ServerProcess::Start("services/stt/stt_server",
                                           {"--provider=mock", "--log_level=warn"});
  auto tts = testing::ServerProcess::Start("services/tts/tts_server",
                                           {"--provider=mock", "--log_level=warn"});
  if (!stt.ok() || !tts.ok()) {
    std::fprintf(stderr, "cannot start the backends\n");
    return 1;
  }
  auto orchestrator =
      testing::ServerProcess::Start("services/orchestrator/orchestrator_server",
                                    {absl::StrCat("--stt_target=", (*stt)->address()),
                                     absl::StrCat("--tts_target=", (*tts)->address()),
                                     "--max_sessions=100000", "--log_level=warn"});
  if (!orchestrator.ok()) {
    std::fprintf(stderr, "cannot start the orchestrator: %s\n",
                 orchestrator.status().ToString().c_str());
    return 1;
  }
  const pid_t pid = (*orchestrator)->pid();
  const absl::Duration period = absl::GetFlag(FLAGS_measure);
  const int sessions = absl::GetFlag(FLAGS_sessions);

  auto [idle_cpu, baseline] = Measure(pid, period);
  std::printf("baseline (0 sessions): cpu %.1f%% of a core, rss %lld KiB, %d threads\n",
              100 * idle_cpu, static_cast<long long>(baseline.rss_kib), baseline.threads);

  auto channel =
      grpc::CreateChannel((*orchestrator)->address(), grpc::InsecureChannelCredentials());
  auto stub = v1::Orchestrator::NewStub(channel);
  v1::SessionConfig config;
  for (v1::AudioStreamFormat* format :
       {config.mutable_input_format(), config.mutable_output_format()}) {
    format->set_format(v1::PCM16);
    format->set_sample_rate(16000);
    format->set_channels(1);
  }
  std::vector<std::unique_ptr<IdleConversation>> open;
  for (int i = 0; i < sessions; ++i) {
    open.push_back(std::make_unique<IdleConversation>(stub.get(), config));
  }
  int started = 0;
  for (auto& conversation : open) started += conversation->WaitStarted() ? 1 : 0;
  absl::SleepFor(absl::Seconds(1));  // Let start-up work settle.
  auto [busy_cpu, loaded] = Measure(pid, period);
  const double per_session_kib =
      static_cast<double>(loaded.rss_kib - baseline.rss_kib) / std::max(1, started);
  std::printf(
      "%d idle sessions (%d started): cpu %.1f%% of a core (%.1f%% over baseline), "
      "rss %lld KiB (+%.1f KiB per session), %d threads\n",
      sessions, started, 100 * busy_cpu, 100 * (busy_cpu - idle_cpu),
      static_cast<long long>(loaded.rss_kib), per_session_kib, loaded.threads);
  for (auto& conversation : open) conversation->Cancel();
  for (auto& conversation : open) conversation->WaitDone();
  return started == sessions ? 0 : 1;
}

}  // namespace
}  // namespace voxflow

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return voxflow::Run();
}
