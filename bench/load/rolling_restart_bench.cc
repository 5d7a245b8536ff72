// A rolling restart under live calls: N callers who just talk (real-time microphones, mock
// engines) spread over two orchestrators that share one Redis; mid-run one orchestrator gets
// SIGTERM and moves its calls to the other at their turn boundaries, then a replacement starts.
// Measures what the callers live: calls dropped, turns lost, the switch they hear (Reconnect ->
// the new stream's SessionStarted) against the baseline of a call's own setup (stream opened ->
// SessionStarted) in the same run, and what Redis spends per turn (its commandstats).
//
//   bazel build -c opt //bench/load:rolling_restart_bench
//   bazel-bin/bench/load/rolling_restart_bench (from its runfiles) --calls=20 --questions=4
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/util/percentile.h"
#include "services/common/audio_chunk.h"
#include "services/common/redis/redis_client.h"
#include "tests/util/fixtures.h"
#include "tests/util/microphone.h"
#include "tests/util/redis_server.h"
#include "tests/util/resuming_call.h"
#include "tests/util/server_process.h"

ABSL_FLAG(int, calls, 20, "Concurrent calls.");
ABSL_FLAG(int, questions, 4, "Questions each caller asks.");
ABSL_FLAG(uint32_t, seed, 1, "Seed of the callers' pauses and start times.");

namespace voxflow::bench {
namespace {

using testing::Microphone;
using testing::ResumingCall;
using testing::ServerProcess;
using testing::TimedEvent;

struct CallResult {
  bool ok = false;
  int turns = 0;
  int lost_turns = 0;  // Reported lost by a resumed stream.
  double setup_ms = NAN;
  std::vector<double> switch_ms;
  int switches = 0;
  int moved = 0;
};

// Completed turns of every call, for the main thread to pick its moment.
struct Progress {
  std::mutex mu;
  std::condition_variable changed;
  int turns = 0;
  void Add() {
    std::lock_guard<std::mutex> lock(mu);
    ++turns;
    changed.notify_all();
  }
};

int Turns(const std::vector<TimedEvent>& events) {
  int n = 0;
  for (const TimedEvent& e : events) n += e.event.has_turn_completed();
  return n;
}

CallResult RunCall(std::vector<std::string> targets, int questions, uint32_t seed,
                   const std::string& question, Progress& progress) {
  CallResult result;
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> pause_ms(300, 900);
  v1::SessionConfig config;
  config.set_pipeline("chat");
  *config.mutable_input_format() = MakeStreamFormat(v1::PCM16, 16000, 1);
  *config.mutable_output_format() = MakeStreamFormat(v1::PCM16, 16000, 1);
  const absl::Time opened = absl::Now();
  ResumingCall call(std::move(targets), config);
  if (!call.WaitFor([](const std::vector<TimedEvent>& events) { return !events.empty(); })) {
    return result;
  }
  const std::vector<TimedEvent> first = call.events();
  if (!first.front().event.has_session_started()) return result;
  result.setup_ms = absl::ToDoubleMilliseconds(first.front().received - opened);
  Microphone mic(call);
  for (int q = 1; q <= questions; ++q) {
    mic.Play(testing::SilencePcm16k(pause_ms(random)));
    mic.Play(question);
    if (!call.WaitFor([q](const std::vector<TimedEvent>& events) { return Turns(events) >= q; },
                      absl::Seconds(60))) {
      break;
    }
    progress.Add();
  }
  mic.PlayAndWait(testing::SilencePcm16k(300));
  mic.Stop();
  result.ok = call.Finish().ok();
  const std::vector<TimedEvent> events = call.events();
  result.turns = Turns(events);
  for (const TimedEvent& e : events) result.lost_turns += e.event.has_error();
  for (const ResumingCall::Switch& s : call.switches()) {
    ++result.switches;
    result.moved += s.moved;
    if (s.started != absl::InfinitePast()) {
      result.switch_ms.push_back(absl::ToDoubleMilliseconds(s.started - s.left));
    }
  }
  return result;
}

// The commands Redis ran, by kind (commandstats; a script's own calls are counted too).
std::map<std::string, int64_t> RedisCommands(RedisClient& redis) {
  std::map<std::string, int64_t> calls;
  absl::StatusOr<RedisReply> info = redis.Command({"INFO", "commandstats"});
  if (!info.ok()) return calls;
  for (absl::string_view line : absl::StrSplit(info->text, "\r\n")) {
    // cmdstat_eval:calls=12,usec=345,usec_per_call=28.75,...
    if (!absl::ConsumePrefix(&line, "cmdstat_")) continue;
    const std::string name(line.substr(0, line.find(':')));
    for (absl::string_view field : absl::StrSplit(line.substr(line.find(':') + 1), ',')) {
      int64_t count = 0;
      if (absl::ConsumePrefix(&field, "calls=") && absl::SimpleAtoi(field, &count)) {
        calls[name] += count;
      }
    }
  }
  return calls;
}

// The CPU time the Redis process has used (INFO cpu), in seconds.
double RedisCpuSeconds(RedisClient& redis) {
  absl::StatusOr<RedisReply> info = redis.Command({"INFO", "cpu"});
  if (!info.ok()) return NAN;
  double total = 0;
  for (absl::string_view line : absl::StrSplit(info->text, "\r\n")) {
    double value = 0;
    if ((absl::ConsumePrefix(&line, "used_cpu_user:") ||
         absl::ConsumePrefix(&line, "used_cpu_sys:")) &&
        absl::SimpleAtod(line, &value)) {
      total += value;
    }
  }
  return total;
}

int Main() {
  const int calls = absl::GetFlag(FLAGS_calls);
  const int questions = absl::GetFlag(FLAGS_questions);
  const uint32_t seed = absl::GetFlag(FLAGS_seed);
  const std::string dir = testing::TempPath("");
  std::ofstream(dir + "/chat.textproto") << testing::RememberingPipelineSpec("chat");
  std::ofstream(dir + "/resume.key") << "the rolling restart benchmark's key";

  absl::StatusOr<std::unique_ptr<testing::RedisServer>> redis_server =
      testing::RedisServer::Start();
  if (!redis_server.ok()) {
    std::fprintf(stderr, "redis: %s\n", redis_server.status().ToString().c_str());
    return 2;
  }
  auto stt =
      ServerProcess::Start("services/stt/stt_server",
                           {"--provider=mock", "--mock_latency_ms=10", "--mock_latency_jitter_ms=0",
                            "--mock_transcriptions={bytes}", "--log_level=warn"});
  auto tts = ServerProcess::Start(
      "services/tts/tts_server",
      {"--provider=mock", "--mock_latency_ms=0", "--mock_bytes_per_char=320", "--log_level=warn"});
  if (!stt.ok() || !tts.ok()) {
    std::fprintf(stderr, "backends did not start\n");
    return 2;
  }
  auto start_orchestrator = [&] {
    return ServerProcess::Start(
        "services/orchestrator/orchestrator_server",
        {absl::StrCat("--stt_target=", (*stt)->address()),
         absl::StrCat("--tts_target=", (*tts)->address()), "--pipelines_dir=" + dir,
         "--session_store=" + (*redis_server)->url(), "--resume_key_file=" + dir + "/resume.key",
         "--drain_timeout=60s", "--move_bound=30s", "--log_level=warn"});
  };
  auto a = start_orchestrator();
  auto b = start_orchestrator();
  if (!a.ok() || !b.ok()) {
    std::fprintf(stderr, "orchestrators did not start\n");
    return 2;
  }
  const std::string question = testing::SpeechPcm16k("what is the weather like today");

  RedisClient redis({"127.0.0.1", (*redis_server)->port()}, {});
  const double redis_cpu_before = RedisCpuSeconds(redis);
  const absl::Time run_start = absl::Now();
  Progress progress;
  std::vector<CallResult> results(calls);
  std::vector<std::thread> threads;
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> start_ms(0, 2000);
  for (int i = 0; i < calls; ++i) {
    std::vector<std::string> targets = {(*a)->address(), (*b)->address()};
    if (i % 2 == 1) std::swap(targets[0], targets[1]);  // Half the calls start on each.
    const int delay = start_ms(random);
    const uint32_t call_seed = seed * 1000 + static_cast<uint32_t>(i);
    threads.emplace_back([&, i, targets, delay, call_seed] {
      absl::SleepFor(absl::Milliseconds(delay));
      results[i] = RunCall(targets, questions, call_seed, question, progress);
    });
  }
  // Mid-run: half the turns done, calls in every phase (speaking, waiting, hearing a reply).
  {
    std::unique_lock<std::mutex> lock(progress.mu);
    progress.changed.wait(lock, [&] { return progress.turns >= calls * questions / 2; });
  }
  const absl::Time restart = absl::Now();
  (*a)->Signal(SIGTERM);
  absl::StatusOr<int> exit = (*a)->WaitForExit(absl::Seconds(90));
  const double drained_ms = absl::ToDoubleMilliseconds(absl::Now() - restart);
  auto replacement = start_orchestrator();  // The rolling update's new pod.
  for (std::thread& t : threads) t.join();

  int dropped = 0, turns = 0, lost = 0, moved = 0, switches = 0;
  std::vector<double> setup, switch_ms;
  for (const CallResult& r : results) {
    dropped += !r.ok || r.turns < questions;
    turns += r.turns;
    lost += r.lost_turns;
    moved += r.moved;
    switches += r.switches;
    if (!std::isnan(r.setup_ms)) setup.push_back(r.setup_ms);
    switch_ms.insert(switch_ms.end(), r.switch_ms.begin(), r.switch_ms.end());
  }
  const double redis_cpu = RedisCpuSeconds(redis) - redis_cpu_before;
  const double run_s = absl::ToDoubleSeconds(absl::Now() - run_start);
  int64_t redis_calls = 0;
  for (const auto& [name, count] : RedisCommands(redis)) {
    if (name != "info") redis_calls += count;
  }

  std::printf("| rolling restart: %d calls x %d questions, seed %u | |\n|---|---|\n", calls,
              questions, seed);
  std::printf("| calls dropped (goal 0) | %d |\n", dropped);
  std::printf("| turns answered / asked | %d / %d |\n", turns, calls * questions);
  std::printf("| turns lost (goal 0 on SIGTERM) | %d |\n", lost);
  std::printf("| calls moved / stream switches | %d / %d |\n", moved, switches);
  std::printf(
      "| switch the caller hears, Reconnect -> SessionStarted p50 / p99 / max (ms) | %.1f "
      "/ %.1f / %.1f |\n",
      Percentile(switch_ms, 0.5), Percentile(switch_ms, 0.99),
      switch_ms.empty() ? NAN : *std::max_element(switch_ms.begin(), switch_ms.end()));
  std::printf(
      "| baseline: a call's setup, stream opened -> SessionStarted p50 / p99 (ms) | %.1f "
      "/ %.1f |\n",
      Percentile(setup, 0.5), Percentile(setup, 0.99));
  std::printf("| switch p50 / setup p50 | %.2f |\n",
              Percentile(switch_ms, 0.5) / Percentile(setup, 0.5));
  std::printf("| SIGTERM -> drained server exited (ms; exit code %d) | %.0f |\n",
              exit.ok() ? *exit : -1, drained_ms);
  std::printf("| Redis: commands per turn (a script's own calls counted) | %.1f |\n",
              double(redis_calls) / std::max(turns, 1));
  std::printf(
      "| Redis: CPU over the run per turn (us; its idle ticks included) / CPU share | %.0f "
      "/ %.2f %% |\n",
      1e6 * redis_cpu / std::max(turns, 1), 100 * redis_cpu / run_s);
  (void)replacement;
  return dropped == 0 && lost == 0 ? 0 : 1;
}

}  // namespace
}  // namespace voxflow::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  return voxflow::bench::Main();
}
