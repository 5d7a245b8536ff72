// The orchestrator's threads do not grow with its conversations: its stages hold no thread while
// they wait (AsyncStage), so 400 conversations, each in the middle of a spoken reply, run on the
// same threads as 10. Real processes, mock engines.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "services/common/audio_chunk.h"
#include "services/orchestrator/llm/fake_openai_server.h"
#include "tests/util/converse_client.h"
#include "tests/util/fixtures.h"
#include "tests/util/server_process.h"

namespace voxflow {
namespace {

using testing::ConverseClient;
using testing::StartServer;
using testing::TimedEvent;

// "name xN" for each thread name of `pid` (what to look at when the count is over).
std::string ThreadNames(pid_t pid) {
  std::map<std::string, int> names;
  for (const auto& task :
       std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/task"))) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    ++names[name];
  }
  std::string out;
  for (const auto& [name, count] : names) absl::StrAppend(&out, name, " x", count, ", ");
  return out;
}

int ThreadsOf(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

bool HasReplyAudio(const std::vector<TimedEvent>& events) {
  for (const TimedEvent& e : events) {
    if (e.event.has_reply_audio()) return true;
  }
  return false;
}

bool Sanitized() {
  return std::getenv("TSAN_OPTIONS") != nullptr || std::getenv("ASAN_OPTIONS") != nullptr ||
         std::getenv("UBSAN_OPTIONS") != nullptr;
}

TEST(ScaleTest, ThreadsDoNotGrowWithConversations) {
  // Replies of 200 ms of audio per character (the voice_chat greeting: about 13 s), so that
  // every conversation is still speaking when the threads are counted.
  auto stt = StartServer("services/stt/stt_server",
                         {"--provider=mock", "--mock_latency_ms=0", "--max_streams=1000"});
  auto tts =
      StartServer("services/tts/tts_server", {"--provider=mock", "--mock_latency_ms=0",
                                              "--mock_bytes_per_char=6400", "--max_streams=1000"});
  ASSERT_NE(stt, nullptr);
  ASSERT_NE(tts, nullptr);
  auto orchestrator =
      StartServer("services/orchestrator/orchestrator_server",
                  {absl::StrCat("--stt_target=", stt->address()),
                   absl::StrCat("--tts_target=", tts->address()), "--log_level=warn"});
  ASSERT_NE(orchestrator, nullptr);
  auto channel = grpc::CreateChannel(orchestrator->address(), grpc::InsecureChannelCredentials());
  v1::SessionConfig config;
  *config.mutable_input_format() = MakeStreamFormat(v1::PCM16, 16000, 1);
  *config.mutable_output_format() = MakeStreamFormat(v1::PCM16, 16000, 1);

  // `n` conversations, each asked "hello" and replying, counted once all of them speak (or, on a
  // machine too slow for that, after a minute: a slower machine has fewer replies running at
  // once, never more threads for them).
  auto threads_with = [&](int n) {
    std::vector<std::unique_ptr<ConverseClient>> clients;
    for (int i = 0; i < n; ++i) {
      clients.push_back(std::make_unique<ConverseClient>(channel, config));
      EXPECT_TRUE(clients.back()->SendText("hello"));
    }
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    int speaking = 0;
    for (auto& client : clients) {
      if (client->WaitFor(HasReplyAudio, std::max(deadline - absl::Now(), absl::ZeroDuration()))) {
        ++speaking;
      }
    }
    const int threads = ThreadsOf(orchestrator->pid());
    int finished = 0;
    for (auto& client : clients) finished += client->turn(1) != nullptr ? 1 : 0;
    std::printf("%d conversations (%d speaking, %d already done): %d threads: %s\n", n, speaking,
                finished, threads, ThreadNames(orchestrator->pid()).c_str());
    return threads;
  };
  // Sanitizers slow every thread 5-15x: 100 conversations there, 400 otherwise.
  const int many = Sanitized() ? 100 : 400;
  const int at_10 = threads_with(10);
  const int at_many = threads_with(many);
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  std::printf("orchestrator threads: %d with 10 conversations, %d with %d (%d cores)\n", at_10,
              at_many, many, cores);
  EXPECT_LE(at_10, 2 * cores + 16);
  EXPECT_LE(at_many, 2 * cores + 16);
}

// Replies streamed by a model server hold no thread either: every request is on the CurlLoop,
// tool-less replies of the fake's "story" model (a word every 30 ms, ten sentences).
TEST(ScaleTest, RepliesFromAModelServerHoldNoThread) {
  orchestrator::testing::FakeOpenAiServer model(std::nullopt, /*streams=*/128);
  auto stt = StartServer("services/stt/stt_server", {"--provider=mock", "--mock_latency_ms=0"});
  auto tts = StartServer("services/tts/tts_server", {"--provider=mock", "--mock_latency_ms=0"});
  ASSERT_NE(stt, nullptr);
  ASSERT_NE(tts, nullptr);
  auto orchestrator = StartServer(
      "services/orchestrator/orchestrator_server",
      {absl::StrCat("--stt_target=", stt->address()), absl::StrCat("--tts_target=", tts->address()),
       "--llm_provider=openai", absl::StrCat("--llm_base_url=", model.base_url()),
       "--llm_model=story", "--log_level=warn"});
  ASSERT_NE(orchestrator, nullptr);
  auto channel = grpc::CreateChannel(orchestrator->address(), grpc::InsecureChannelCredentials());
  v1::SessionConfig config;
  *config.mutable_input_format() = MakeStreamFormat(v1::PCM16, 16000, 1);
  *config.mutable_output_format() = MakeStreamFormat(v1::PCM16, 16000, 1);

  auto threads_while_streaming = [&](int n) {
    std::vector<std::unique_ptr<ConverseClient>> clients;
    for (int i = 0; i < n; ++i) {
      clients.push_back(std::make_unique<ConverseClient>(channel, config));
      EXPECT_TRUE(clients.back()->SendText("tell me a story"));
    }
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    int streaming = 0;  // Conversations that got reply text.
    for (auto& client : clients) {
      streaming += client->WaitFor(
                       [](const std::vector<TimedEvent>& events) {
                         for (const TimedEvent& e : events) {
                           if (e.event.has_reply_text()) return true;
                         }
                         return false;
                       },
                       std::max(deadline - absl::Now(), absl::ZeroDuration()))
                       ? 1
                       : 0;
    }
    const int threads = ThreadsOf(orchestrator->pid());
    int finished = 0;
    for (auto& client : clients) finished += client->turn(1) != nullptr ? 1 : 0;
    std::printf("%d conversations (%d had reply text, %d already done): %d threads: %s\n", n,
                streaming, finished, threads, ThreadNames(orchestrator->pid()).c_str());
    return threads;
  };
  const int many = Sanitized() ? 20 : 100;
  const int at_1 = threads_while_streaming(1);
  const int at_many = threads_while_streaming(many);
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  std::printf("orchestrator threads: %d with 1 reply from the model server, %d with %d\n", at_1,
              at_many, many);
  EXPECT_LE(at_many, 2 * cores + 16);
  EXPECT_LE(at_many - at_1, 2 * cores) << "only gRPC's executor grows, bounded by the cores";
}

}  // namespace
}  // namespace voxflow
