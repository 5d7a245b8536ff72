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

bool Has(const std::vector<TimedEvent>& events, bool (v1::ConverseEvent::*has)() const) {
  for (const TimedEvent& e : events) {
    if ((e.event.*has)()) return true;
  }
  return false;
}

bool Sanitized() {
  return std::getenv("TSAN_OPTIONS") != nullptr || std::getenv("ASAN_OPTIONS") != nullptr ||
         std::getenv("UBSAN_OPTIONS") != nullptr;
}

// Mock speech services, an orchestrator with `extra_flags`, and conversations on it.
class Conversations {
 public:
  Conversations(const std::vector<std::string>& stt_flags,
                const std::vector<std::string>& tts_flags,
                const std::vector<std::string>& extra_flags) {
    std::vector<std::string> flags = {"--log_level=warn"};
    flags.insert(flags.end(), extra_flags.begin(), extra_flags.end());
    stack_ = testing::StartVoiceStack(stt_flags, tts_flags, flags);
    if (!stack_.ok()) return;
    channel_ =
        grpc::CreateChannel(stack_.orchestrator->address(), grpc::InsecureChannelCredentials());
    *config_.mutable_input_format() = MakeStreamFormat(v1::PCM16, 16000, 1);
    *config_.mutable_output_format() = MakeStreamFormat(v1::PCM16, 16000, 1);
  }
  bool ok() const { return stack_.ok(); }

  // The orchestrator's threads once `n` conversations, each asked `text`, all have an event
  // `has` (or, on a machine too slow for that, after a minute: a slower machine has fewer replies
  // running at once, never more threads for them).
  int ThreadsWith(int n, const std::string& text, bool (v1::ConverseEvent::*has)() const,
                  const char* what) {
    std::vector<std::unique_ptr<ConverseClient>> clients;
    for (int i = 0; i < n; ++i) {
      clients.push_back(std::make_unique<ConverseClient>(channel_, config_));
      EXPECT_TRUE(clients.back()->SendText(text));
    }
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    int reached = 0;
    for (auto& client : clients) {
      const bool got =
          client->WaitFor([has](const std::vector<TimedEvent>& e) { return Has(e, has); },
                          std::max(deadline - absl::Now(), absl::ZeroDuration()));
      reached += got ? 1 : 0;
    }
    const int threads = ThreadsOf(stack_.orchestrator->pid());
    int finished = 0;
    for (auto& client : clients) finished += client->turn(1) != nullptr ? 1 : 0;
    std::printf("%d conversations (%d %s, %d already done): %d threads: %s\n", n, reached, what,
                finished, threads, ThreadNames(stack_.orchestrator->pid()).c_str());
    return threads;
  }

 private:
  testing::VoiceStack stack_;
  std::shared_ptr<grpc::Channel> channel_;
  v1::SessionConfig config_;
};

TEST(ScaleTest, ThreadsDoNotGrowWithConversations) {
  // Replies of 200 ms of audio per character (the voice_chat greeting: about 13 s), so that
  // every conversation is still speaking when the threads are counted.
  Conversations conversations({"--provider=mock", "--mock_latency_ms=0", "--max_streams=1000"},
                              {"--provider=mock", "--mock_latency_ms=0",
                               "--mock_bytes_per_char=6400", "--max_streams=1000"},
                              {});
  ASSERT_TRUE(conversations.ok());
  // Sanitizers slow every thread 5-15x: 100 conversations there, 400 otherwise.
  const int many = Sanitized() ? 100 : 400;
  const int at_10 =
      conversations.ThreadsWith(10, "hello", &v1::ConverseEvent::has_reply_audio, "speaking");
  const int at_many =
      conversations.ThreadsWith(many, "hello", &v1::ConverseEvent::has_reply_audio, "speaking");
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  std::printf("orchestrator threads: %d with 10 conversations, %d with %d (%d cores)\n", at_10,
              at_many, many, cores);
  EXPECT_LE(at_10, 2 * cores + 16);
  EXPECT_LE(at_many, 2 * cores + 16);
}

// Replies streamed by a model server hold no thread either: every request is on the CurlLoop.
// The fake's "story" model: ten sentences, a word every 30 ms.
TEST(ScaleTest, RepliesFromAModelServerHoldNoThread) {
  orchestrator::testing::FakeOpenAiServer model(std::nullopt, /*streams=*/128);
  Conversations conversations(
      {"--provider=mock", "--mock_latency_ms=0"}, {"--provider=mock", "--mock_latency_ms=0"},
      {"--llm_provider=openai", absl::StrCat("--llm_base_url=", model.base_url()),
       "--llm_model=story"});
  ASSERT_TRUE(conversations.ok());
  const int many = Sanitized() ? 20 : 100;
  const int at_1 = conversations.ThreadsWith(1, "tell me a story",
                                             &v1::ConverseEvent::has_reply_text, "had reply text");
  const int at_many = conversations.ThreadsWith(
      many, "tell me a story", &v1::ConverseEvent::has_reply_text, "had reply text");
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  std::printf("orchestrator threads: %d with 1 reply from the model server, %d with %d\n", at_1,
              at_many, many);
  EXPECT_LE(at_1, 2 * cores + 16);
  EXPECT_LE(at_many, 2 * cores + 16) << "a thread per reply would be one per conversation";
}

}  // namespace
}  // namespace voxflow
