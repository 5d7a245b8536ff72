// The language model's path through the orchestrator, against an OpenAI-compatible server (the
// in-tree fake, in this process, answering at once): mock STT and TTS processes, the real
// orchestrator process with --llm_provider=openai. Measured:
// - the orchestrator's cost between the model server writing a reply's first token and the
//   caller receiving its first ReplyText (both clocks are this process's), per typed turn, at
//   each --sessions (the 1-session run is the baseline of the same run);
// - connection reuse: model requests per new TCP connection, from the orchestrator's own
//   counters (voxflow_llm_requests_total, voxflow_llm_connections_opened_total) over
//   --reuse_turns turns of one conversation;
// - cancellation: Control.INTERRUPT sent -> the model server seeing its client go (it writes a
//   token every 1 ms and notices at the first write that fails, 1-2 ms after the connection
//   closed), --cancels times.
#include <algorithm>
#include <cstdio>
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
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "services/common/audio_chunk.h"
#include "services/orchestrator/llm/fake_openai_server.h"
#include "tests/util/converse_client.h"
#include "tests/util/metrics_scrape.h"
#include "tests/util/server_process.h"

ABSL_FLAG(std::vector<std::string>, sessions, std::vector<std::string>({"1", "50"}),
          "Concurrent conversations, one run per value.");
ABSL_FLAG(int, turns, 10, "Typed turns per conversation.");
ABSL_FLAG(int, pause_ms, 1000,
          "A caller's pause between a reply and the next turn (each pause drawn from 0.5x..1.5x, "
          "seeded, so the sessions do not move in step); 0: back to back.");
ABSL_FLAG(int, reuse_turns, 100, "Turns of one conversation for the connection-reuse figure.");
ABSL_FLAG(int, cancels, 20, "Interrupted turns for the cancellation figure.");

namespace voxflow::bench {
namespace {

using testing::ConverseClient;
using testing::ServerProcess;
using testing::TimedEvent;

v1::SessionConfig Config(const std::string& model) {
  v1::SessionConfig config;
  *config.mutable_input_format() = MakeStreamFormat(v1::PCM16, 16000, 1);
  *config.mutable_output_format() = MakeStreamFormat(v1::PCM16, 16000, 1);
  config.mutable_llm()->set_model(model);
  return config;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return -1;
  std::sort(values.begin(), values.end());
  const size_t i = std::min(values.size() - 1, static_cast<size_t>(p * values.size()));
  return values[i];
}

std::unique_ptr<ServerProcess> Start(const std::string& binary,
                                     const std::vector<std::string>& args) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> server = ServerProcess::Start(binary, args);
  if (!server.ok()) {
    std::fprintf(stderr, "%s: %s\n", binary.c_str(), server.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(server);
}

bool HasReplyText(const std::vector<TimedEvent>& events, int turn_id) {
  for (const TimedEvent& e : events) {
    if (e.event.has_reply_text() && e.event.reply_text().turn_id() == turn_id) return true;
  }
  return false;
}

// First token written by the model server -> first ReplyText received, in ms, for every turn of
// `sessions` conversations running at once.
std::vector<double> FirstTokenToReplyText(const std::string& address,
                                          orchestrator::testing::FakeOpenAiServer& model,
                                          int sessions, int turns, int* failed) {
  std::mutex mu;
  std::vector<double> costs;
  std::vector<std::thread> threads;
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  for (int s = 0; s < sessions; ++s) {
    threads.emplace_back([&, s] {
      std::mt19937 rng(s + 1);
      std::uniform_real_distribution<double> pause(0.5, 1.5);
      ConverseClient client(channel, Config("ok"));
      for (int t = 1; t <= turns; ++t) {
        absl::SleepFor(absl::Milliseconds(absl::GetFlag(FLAGS_pause_ms) * pause(rng)));
        const std::string text = absl::StrCat("session ", s, " turn ", t, " of ", sessions);
        if (!client.SendText(text) || !client.WaitForTurn(t, absl::Seconds(60))) {
          std::lock_guard<std::mutex> lock(mu);
          ++*failed;
          return;
        }
        const std::vector<TimedEvent> replies = client.Filter(v1::ConverseEvent::kReplyText, t);
        const std::optional<absl::Time> token = model.FirstTokenSent(text);
        std::lock_guard<std::mutex> lock(mu);
        if (replies.empty() || !token.has_value()) {
          ++*failed;
          continue;
        }
        costs.push_back(absl::ToDoubleMilliseconds(replies.front().received - *token));
      }
      client.CloseSend();
      client.Finish();
    });
  }
  for (std::thread& t : threads) t.join();
  return costs;
}

double Sample(int metrics_port, const std::string& name) {
  const auto samples = testing::ParseMetrics(testing::ScrapeMetrics(metrics_port));
  auto it = samples.find(name);
  return it == samples.end() ? 0 : it->second;
}

int Main() {
  orchestrator::testing::FakeOpenAiServer model;
  auto stt = Start("services/stt/stt_server", {"--provider=mock", "--mock_latency_ms=0"});
  auto tts = Start("services/tts/tts_server",
                   {"--provider=mock", "--mock_latency_ms=0", "--mock_bytes_per_char=64"});
  auto orchestrator = Start(
      "services/orchestrator/orchestrator_server",
      {absl::StrCat("--stt_target=", stt->address()), absl::StrCat("--tts_target=", tts->address()),
       "--llm_provider=openai", absl::StrCat("--llm_base_url=", model.base_url()), "--llm_model=ok",
       "--metrics_port=0", "--log_level=warn"});
  std::printf("llm_bench: orchestrator %s, model server %s, %u cores\n",
              orchestrator->address().c_str(), model.base_url().c_str(),
              std::thread::hardware_concurrency());

  // Connection reuse.
  const int port = orchestrator->metrics_port();
  const double requests_before = Sample(port, "voxflow_llm_requests_total");
  const double connections_before = Sample(port, "voxflow_llm_connections_opened_total");
  // First, so that its first request opens the first connection.
  auto channel = grpc::CreateChannel(orchestrator->address(), grpc::InsecureChannelCredentials());
  {
    ConverseClient client(channel, Config("ok"));
    for (int t = 1; t <= absl::GetFlag(FLAGS_reuse_turns); ++t) {
      if (!client.SendText(absl::StrCat("reuse ", t)) || !client.WaitForTurn(t)) {
        std::fprintf(stderr, "reuse turn %d did not complete\n", t);
        return 1;
      }
    }
  }
  const double requests = Sample(port, "voxflow_llm_requests_total") - requests_before;
  const double connections =
      Sample(port, "voxflow_llm_connections_opened_total") - connections_before;
  std::printf(
      "\nconnection reuse over %d turns: %.0f requests, %.0f new connections (%.1f "
      "requests per connection)\n",
      absl::GetFlag(FLAGS_reuse_turns), requests, connections,
      connections > 0 ? requests / connections : requests);

  std::printf("\nfirst token written by the model server -> first ReplyText at the caller\n");
  std::printf("%9s %7s %9s %9s %9s %7s\n", "sessions", "turns", "p50 ms", "p90 ms", "p99 ms",
              "failed");
  for (const std::string& value : absl::GetFlag(FLAGS_sessions)) {
    int sessions = 0;
    if (!absl::SimpleAtoi(value, &sessions) || sessions <= 0) continue;
    int failed = 0;
    const std::vector<double> costs = FirstTokenToReplyText(
        orchestrator->address(), model, sessions, absl::GetFlag(FLAGS_turns), &failed);
    std::printf("%9d %7zu %9.2f %9.2f %9.2f %7d\n", sessions, costs.size(), Percentile(costs, 0.5),
                Percentile(costs, 0.9), Percentile(costs, 0.99), failed);
  }

  // Cancellation.
  std::vector<double> cancels;
  {
    ConverseClient client(channel, Config("slow"));
    for (int t = 1; t <= absl::GetFlag(FLAGS_cancels); ++t) {
      if (!client.SendText(absl::StrCat("sing ", t)) ||
          !client.WaitFor([t](const std::vector<TimedEvent>& e) { return HasReplyText(e, t); })) {
        std::fprintf(stderr, "cancel turn %d: no reply\n", t);
        return 1;
      }
      const absl::Time interrupted = absl::Now();
      client.SendControl(v1::Control::INTERRUPT);
      absl::Time gone;
      if (!model.WaitForDisconnect(absl::Seconds(10), &gone)) {
        std::fprintf(stderr, "cancel turn %d: the model server kept generating\n", t);
        return 1;
      }
      cancels.push_back(absl::ToDoubleMilliseconds(gone - interrupted));
      client.WaitForTurn(t);
    }
  }
  std::printf(
      "\nINTERRUPT sent -> model server saw its client go, %zu turns: p50 %.1f ms, p90 "
      "%.1f ms, max %.1f ms\n",
      cancels.size(), Percentile(cancels, 0.5), Percentile(cancels, 0.9), Percentile(cancels, 1.0));
  return 0;
}

}  // namespace
}  // namespace voxflow::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return voxflow::bench::Main();
}
