// gateway_bench: what the gateway adds to a phone call. N callers at real time, each a few turns
// (a spoken question, then silence until the reply has played), first straight to the
// orchestrator over gRPC (mu-law 8 kHz both ways, as a phone line), then the same calls as Twilio
// Media Streams through the gateway, against the same orchestrator (mock STT and TTS) in one
// run. Per path: voice-to-voice as the caller measures it (end of the question sent -> first reply
// frame received; every reply frame crosses the same hop, so the difference is what the gateway
// adds to each frame), the largest gap between reply frames, calls that got every answer, and CPU
// per call-minute of the orchestrator and of the gateway.
//
//   bazel run -c opt //bench/gateway:gateway_bench -- --calls=50,100 --turns=3
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/util/percentile.h"
#include "grpcpp/create_channel.h"
#include "services/common/audio_chunk.h"
#include "services/common/audio_converter.h"
#include "services/common/sample_format.h"
#include "spdlog/spdlog.h"
#include "tests/util/converse_client.h"
#include "tests/util/fixtures.h"
#include "tests/util/twilio_caller.h"

ABSL_FLAG(std::string, calls, "50,100", "Concurrent calls, comma-separated: one round each.");
ABSL_FLAG(int, turns, 3, "Questions per call.");
ABSL_FLAG(int, seed, 1, "Seed of the callers' start offsets.");
ABSL_FLAG(bool, direct_echo_cancellation, true,
          "The gRPC callers ask for ECHO_CANCELLATION_AUTO, as the gateway does for a Twilio "
          "call (false: the server's default, off; the orchestrator's cost of the canceller).");

namespace voxflow {
namespace {

using bench::Percentile;

constexpr size_t kChunkBytes = 160;  // 20 ms of mu-law 8 kHz.

double CpuSeconds(pid_t pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  std::getline(stat, line);
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::vector<std::string> fields = absl::StrSplit(line.substr(close + 2), ' ');
  if (fields.size() <= 13) return 0;
  return (std::stod(fields[11]) + std::stod(fields[12])) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string Mulaw8k(const std::string& pcm16k) {
  auto converter = AudioConverter::Create(MakeStreamFormat(v1::PCM16, 16000, 1),
                                          MakeStreamFormat(v1::MULAW, 8000, 1));
  std::string out = *(*converter)->Convert(pcm16k);
  out += (*converter)->Flush();  // After Convert: a separate statement fixes the order.
  out.resize((out.size() + kChunkBytes - 1) / kChunkBytes * kChunkBytes, SilenceByte(v1::MULAW));
  return out;
}

// One call's results: voice-to-voice per turn, gaps between reply frames.
struct CallResult {
  std::vector<double> voice_to_voice_ms;
  std::vector<double> frame_gap_ms;
  bool answered_all = false;
};

// The reply frames' arrival times after `from`, until the reply goes quiet.
void Measure(const std::vector<absl::Time>& frames, absl::Time asked, CallResult& result) {
  auto first = std::find_if(frames.begin(), frames.end(), [&](absl::Time t) { return t > asked; });
  if (first == frames.end()) return;
  result.voice_to_voice_ms.push_back(absl::ToDoubleMilliseconds(*first - asked));
  for (auto it = first + 1; it != frames.end(); ++it) {
    const double gap = absl::ToDoubleMilliseconds(*it - *(it - 1));
    if (gap > 300) break;  // The next reply.
    result.frame_gap_ms.push_back(gap);
  }
}

// A caller straight to the orchestrator: mu-law 8 kHz in 20 ms chunks at real time, always.
class DirectCaller {
 public:
  DirectCaller(const std::shared_ptr<grpc::Channel>& channel) {
    v1::SessionConfig config;
    *config.mutable_input_format() = MakeStreamFormat(v1::MULAW, 8000, 1);
    *config.mutable_output_format() = config.input_format();
    if (absl::GetFlag(FLAGS_direct_echo_cancellation)) {
      config.set_echo_cancellation(v1::ECHO_CANCELLATION_AUTO);
    }
    client_ = std::make_unique<testing::ConverseClient>(channel, config);
    thread_ = std::thread([this] { Run(); });
  }
  ~DirectCaller() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    changed_.notify_all();
    thread_.join();
    client_->Cancel();
  }
  // Sends `mulaw`; returns when its last chunk went out.
  absl::Time Say(const std::string& mulaw) {
    std::unique_lock<std::mutex> lock(mu_);
    clip_ = mulaw;
    offset_ = 0;
    changed_.wait(lock, [&] { return offset_ >= clip_.size() || stop_; });
    return said_;
  }
  std::vector<absl::Time> Frames() {
    std::vector<absl::Time> times;
    for (const auto& e : client_->Filter(v1::ConverseEvent::kReplyAudio))
      times.push_back(e.received);
    return times;
  }
  testing::ConverseClient& client() { return *client_; }

 private:
  void Run() {
    const absl::Time start = absl::Now();
    uint64_t sequence = 0;
    while (true) {
      std::string chunk(kChunkBytes, SilenceByte(v1::MULAW));
      {
        std::unique_lock<std::mutex> lock(mu_);
        if (changed_.wait_until(lock, absl::ToChronoTime(start + absl::Milliseconds(20 * sequence)),
                                [&] { return stop_; })) {
          return;
        }
        if (offset_ < clip_.size()) {
          chunk = clip_.substr(offset_, kChunkBytes);
          offset_ += kChunkBytes;
          if (offset_ >= clip_.size()) {
            said_ = absl::Now();
            changed_.notify_all();
          }
        }
      }
      v1::ConverseRequest request;
      v1::AudioChunk* audio = request.mutable_audio();
      audio->set_data(chunk);
      audio->set_format(v1::MULAW);
      audio->set_sample_rate(8000);
      audio->set_channels(1);
      audio->set_sequence(sequence);
      audio->set_timestamp_ms(static_cast<int64_t>(sequence) * 20);
      ++sequence;
      client_->Send(request);
    }
  }

  std::unique_ptr<testing::ConverseClient> client_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::string clip_;
  size_t offset_ = 0;
  absl::Time said_;
  bool stop_ = false;
  std::thread thread_;
};

// Waits until a reply has started after `asked` and then gone quiet for 400 ms (or 15 s pass).
template <typename FramesFn>
bool WaitForReply(FramesFn frames, absl::Time asked) {
  const absl::Time deadline = asked + absl::Seconds(15);
  while (absl::Now() < deadline) {
    const std::vector<absl::Time> times = frames();
    if (!times.empty() && times.back() > asked &&
        absl::Now() - times.back() > absl::Milliseconds(400)) {
      return true;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

struct Round {
  std::vector<CallResult> calls;
  double orchestrator_cpu_s = 0;
  double gateway_cpu_s = 0;
  double call_minutes = 0;
};

Round RunRound(int n, bool through_gateway, const testing::VoiceStack& stack,
               testing::ServerProcess& gateway, const std::string& question) {
  Round round;
  round.calls.resize(n);
  const double orchestrator_cpu = CpuSeconds(stack.orchestrator->pid());
  const double gateway_cpu = CpuSeconds(gateway.pid());
  const absl::Time began = absl::Now();
  std::mt19937 random(static_cast<uint32_t>(absl::GetFlag(FLAGS_seed) + n * 2 + through_gateway));
  std::vector<std::thread> threads;
  auto channel =
      grpc::CreateChannel(stack.orchestrator->address(), grpc::InsecureChannelCredentials());
  const int turns = absl::GetFlag(FLAGS_turns);
  for (int i = 0; i < n; ++i) {
    const auto offset = absl::Milliseconds(std::uniform_int_distribution<int>(0, 2000)(random));
    threads.emplace_back([&, i, offset] {
      absl::SleepFor(offset);
      CallResult& result = round.calls[i];
      int answered = 0;
      if (through_gateway) {
        auto caller = testing::TwilioCaller::Call(gateway.http_port(), {});
        if (!caller.ok()) return;
        (*caller)->Say(testing::SilencePcm16k(300));
        for (int turn = 0; turn < turns; ++turn) {
          const absl::Time asked = (*caller)->WaitSaid((*caller)->Say(question)).second;
          auto frames = [&] { return (*caller)->heard().media_times; };
          answered += WaitForReply(frames, asked);
          Measure(frames(), asked, result);
        }
        (*caller)->HangUp();
      } else {
        DirectCaller caller(channel);
        const std::string mulaw = Mulaw8k(question);
        caller.Say(Mulaw8k(testing::SilencePcm16k(300)));
        for (int turn = 0; turn < turns; ++turn) {
          const absl::Time asked = caller.Say(mulaw);
          auto frames = [&] { return caller.Frames(); };
          answered += WaitForReply(frames, asked);
          Measure(frames(), asked, result);
        }
      }
      result.answered_all = answered == turns;
    });
  }
  for (std::thread& thread : threads) thread.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - began);
  round.call_minutes = n * seconds / 60.0;
  round.orchestrator_cpu_s = CpuSeconds(stack.orchestrator->pid()) - orchestrator_cpu;
  round.gateway_cpu_s = CpuSeconds(gateway.pid()) - gateway_cpu;
  return round;
}

void Report(const char* path, int n, const Round& round) {
  std::vector<double> v2v, gaps;
  int held = 0;
  for (const CallResult& call : round.calls) {
    v2v.insert(v2v.end(), call.voice_to_voice_ms.begin(), call.voice_to_voice_ms.end());
    gaps.insert(gaps.end(), call.frame_gap_ms.begin(), call.frame_gap_ms.end());
    held += call.answered_all;
  }
  std::printf(
      "%-8s calls=%-4d held=%-4d voice_to_voice_ms p50=%.1f p99=%.1f  frame_gap_ms p99=%.1f "
      "max=%.1f  cpu_s_per_call_minute orchestrator=%.3f gateway=%.3f\n",
      path, n, held, Percentile(v2v, 0.5), Percentile(v2v, 0.99), Percentile(gaps, 0.99),
      gaps.empty() ? NAN : *std::max_element(gaps.begin(), gaps.end()),
      round.orchestrator_cpu_s / round.call_minutes, round.gateway_cpu_s / round.call_minutes);
}

int Main() {
  spdlog::set_level(spdlog::level::warn);
  // Mock STT and TTS (a fixed transcript; 80 bytes of audio per character: 10 ms at 8 kHz mu-law),
  // the rule model, and the gateway with no token checks.
  testing::VoiceStack stack = testing::StartVoiceStack(
      {"--provider=mock", "--mock_latency_ms=20", "--mock_transcriptions=what time is it",
       "--log_level=warn"},
      {"--provider=mock", "--mock_latency_ms=20", "--mock_bytes_per_char=80", "--log_level=warn"},
      {"--log_level=warn", "--max_sessions=2000"});
  if (!stack.ok()) return 1;
  auto gateway = testing::StartServer(
      "services/gateway/gateway_server",
      {"--http_port=0", absl::StrCat("--orchestrator_target=", stack.orchestrator->address()),
       "--max_connections_per_client=0", "--log_level=warn"});
  if (gateway == nullptr) return 1;
  const std::string question = testing::SpeechPcm16k("what time is it");
  for (absl::string_view count : absl::StrSplit(absl::GetFlag(FLAGS_calls), ',')) {
    int n = 0;
    if (!absl::SimpleAtoi(count, &n) || n <= 0) continue;
    const Round direct = RunRound(n, false, stack, *gateway, question);
    Report("grpc", n, direct);
    const Round bridged = RunRound(n, true, stack, *gateway, question);
    Report("gateway", n, bridged);
    std::vector<double> a, b;
    for (const auto& call : direct.calls)
      a.insert(a.end(), call.voice_to_voice_ms.begin(), call.voice_to_voice_ms.end());
    for (const auto& call : bridged.calls)
      b.insert(b.end(), call.voice_to_voice_ms.begin(), call.voice_to_voice_ms.end());
    std::printf(
        "added by the gateway at %d calls: p50 %+.1f ms, p99 %+.1f ms; gateway CPU %.0f%% of the "
        "orchestrator's per call-minute\n",
        n, Percentile(b, 0.5) - Percentile(a, 0.5), Percentile(b, 0.99) - Percentile(a, 0.99),
        100.0 * (bridged.gateway_cpu_s / bridged.call_minutes) /
            (bridged.orchestrator_cpu_s / bridged.call_minutes));
  }
  return 0;
}

}  // namespace
}  // namespace voxflow

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return voxflow::Main();
}
