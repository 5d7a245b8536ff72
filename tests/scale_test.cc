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
#include "mocks/fake_openai_audio_server.h"
#include "services/common/audio_chunk.h"
#include "services/orchestrator/llm/fake_openai_server.h"
#include "tests/util/converse_client.h"
#include "tests/util/fixtures.h"
#include "tests/util/server_process.h"
#include "voxflow/v1/stt.grpc.pb.h"
#include "voxflow/v1/tts.grpc.pb.h"

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

mocks::FakeOpenAiAudioServer::Endpoint FakeTranscriptions() {
  return mocks::FakeOpenAiAudioServer::Endpoint::kTranscriptions;
}
mocks::FakeOpenAiAudioServer::Endpoint FakeSpeech() {
  return mocks::FakeOpenAiAudioServer::Endpoint::kSpeech;
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

// Streams waiting on a remote speech server hold no thread of the STT and TTS services either:
// every request is on the process's CurlLoop, so 100 streams in flight at once run on the
// threads one stream uses.
class RemoteProviderScaleTest : public ::testing::Test {
 protected:
  static constexpr int kStreams = 100;

  void SetUp() override {
    mocks::FakeAudioServerOptions options;
    // A thread per connection, with room for the connections curl opens beside its kept-alive
    // ones (each held up to the fake's 1 s keep-alive): with kStreams + 10, 9 of 100 streams
    // once waited past the 20 s timeout for a thread on a loaded machine.
    options.threads = 3 * kStreams;
    options.transcription_delay = absl::Seconds(2);  // Every request in flight together.
    options.speech_chunk_ms = 40;
    options.speech_chunk_interval = absl::Milliseconds(100);  // A sentence streams for seconds.
    fake_ = std::make_unique<mocks::FakeOpenAiAudioServer>(options);
  }

  std::unique_ptr<testing::ServerProcess> Start(const char* binary,
                                                const std::vector<std::string>& more) {
    std::vector<std::string> args = {"--providers=openai",
                                     absl::StrCat("--openai_base_url=", fake_->base_url()),
                                     "--openai_timeout_ms=20000", "--max_streams=1000"};
    args.insert(args.end(), more.begin(), more.end());
    auto process = testing::ServerProcess::Start(binary, args);
    EXPECT_TRUE(process.ok()) << process.status();
    return process.ok() ? *std::move(process) : nullptr;
  }

  std::unique_ptr<mocks::FakeOpenAiAudioServer> fake_;
};

// One recognition: a second of audio, then end of input; the final's provider.
std::string RecognizeOnce(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  auto stream = v1::SpeechToText::NewStub(channel)->StreamingRecognize(&context);
  v1::RecognizeRequest request;
  request.mutable_config()->set_language("en-US");
  *request.mutable_config()->mutable_audio_format() = MakeStreamFormat(v1::PCM16, 16000, 1);
  stream->Write(request);
  v1::RecognizeRequest audio;
  audio.mutable_audio()->set_format(v1::PCM16);
  audio.mutable_audio()->set_sample_rate(16000);
  audio.mutable_audio()->set_channels(1);
  audio.mutable_audio()->set_data(std::string(32000, 1));
  stream->Write(audio);
  stream->WritesDone();
  std::string provider;
  for (v1::RecognizeResponse response; stream->Read(&response);) {
    if (response.has_transcript() && response.transcript().is_final()) {
      provider = response.transcript().provider();
    }
  }
  return stream->Finish().ok() ? provider : "failed";
}

TEST_F(RemoteProviderScaleTest, RecognitionsWaitingOnTheServerHoldNoThread) {
  std::vector<std::string> texts(kStreams + 1, "scripted words");
  fake_->ScriptTranscripts(texts);
  auto stt = Start("services/stt/stt_server", {});
  ASSERT_NE(stt, nullptr);
  auto channel = grpc::CreateChannel(stt->address(), grpc::InsecureChannelCredentials());
  // One stream waiting on the server: the threads the service runs on.
  std::string first;
  std::thread one([&] { first = RecognizeOnce(channel); });
  ASSERT_TRUE(fake_->WaitForRequests(FakeTranscriptions(), 1, absl::Seconds(30)));
  const int at_1 = ThreadsOf(stt->pid());
  one.join();
  EXPECT_EQ(first, "openai");
  std::vector<std::string> providers(kStreams);
  std::vector<std::thread> callers;
  for (int i = 0; i < kStreams; ++i) {
    callers.emplace_back([&, i] { providers[i] = RecognizeOnce(channel); });
  }
  ASSERT_TRUE(fake_->WaitForRequests(FakeTranscriptions(), kStreams + 1, absl::Seconds(60)));
  const int at_many = ThreadsOf(stt->pid());
  std::printf("stt_server threads: %d with 1 request at the server, %d with %d: %s\n", at_1,
              at_many, kStreams, ThreadNames(stt->pid()).c_str());
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(std::count(providers.begin(), providers.end(), "openai"), kStreams);
  EXPECT_LE(at_many, at_1 + 4) << "a thread per request would be one per stream";
}

// One synthesis of `text`; whether its audio came from `provider`.
bool SynthesizeOnce(const std::shared_ptr<grpc::Channel>& channel, const std::string& text,
                    const std::string& provider) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(90)));
  auto stream = v1::TextToSpeech::NewStub(channel)->StreamingSynthesize(&context);
  v1::SynthesizeRequest config;
  config.mutable_config()->set_language("en-US");
  *config.mutable_config()->mutable_output_format() = MakeStreamFormat(v1::PCM16, 16000, 1);
  stream->Write(config);
  v1::SynthesizeRequest piece;
  piece.mutable_text()->set_text(text);
  stream->Write(piece);
  v1::SynthesizeRequest end;
  end.set_end_of_input(true);
  stream->Write(end);
  stream->WritesDone();
  size_t audio = 0;
  bool from_provider = true;
  for (v1::SynthesizeResponse response; stream->Read(&response);) {
    if (response.audio().data().empty()) continue;
    audio += response.audio().data().size();
    from_provider &= response.provider() == provider;
  }
  return stream->Finish().ok() && audio > 16000 && from_provider;
}

TEST_F(RemoteProviderScaleTest, SpeechStreamingFromTheServerHoldsNoThread) {
  auto tts = Start("services/tts/tts_server", {"--openai_voices=alloy"});
  ASSERT_NE(tts, nullptr);
  auto channel = grpc::CreateChannel(tts->address(), grpc::InsecureChannelCredentials());
  const std::string text = "This is one sentence that the speech server streams for a while.";
  bool first = false;
  std::thread one([&] { first = SynthesizeOnce(channel, text, "openai"); });
  ASSERT_TRUE(fake_->WaitForRequests(FakeSpeech(), 1, absl::Seconds(30)));
  const int at_1 = ThreadsOf(tts->pid());
  one.join();
  EXPECT_TRUE(first);
  std::vector<int> ok(kStreams);
  std::vector<std::thread> callers;
  for (int i = 0; i < kStreams; ++i) {
    callers.emplace_back([&, i] { ok[i] = SynthesizeOnce(channel, text, "openai"); });
  }
  ASSERT_TRUE(fake_->WaitForRequests(FakeSpeech(), kStreams + 1, absl::Seconds(60)));
  const int at_many = ThreadsOf(tts->pid());
  std::printf("tts_server threads: %d with 1 sentence streaming, %d with %d: %s\n", at_1, at_many,
              kStreams, ThreadNames(tts->pid()).c_str());
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(std::count(ok.begin(), ok.end(), 1), kStreams);
  EXPECT_LE(at_many, at_1 + 4) << "a thread per sentence would be one per stream";
}

}  // namespace
}  // namespace voxflow
