// The API from other languages: the Python and Node.js client examples each run a whole
// conversation against real service processes (mock engines) and write the reply WAV.
#include <stdlib.h>

#include <climits>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/audio_chunk.h"
#include "services/orchestrator/llm/fake_openai_server.h"
#include "tests/util/command.h"
#include "tests/util/fixtures.h"
#include "tests/util/server_process.h"
#include "tools/voxctl/wav_file.h"

namespace voxflow {
namespace {

using testing::NpmUnavailable;
using testing::RealPath;

using ::testing::AllOf;
using testing::CommandResult;
using ::testing::HasSubstr;
using testing::RunCommand;
using testing::ServerProcess;
using testing::TempPath;

constexpr int kBytesPerChar = 64;
constexpr char kHelloReply[] = "Hello! I am Voxflow, a voice pipeline. How can I help you today?";

v1::AudioStreamFormat Pcm16(int rate, int channels) {
  return MakeStreamFormat(v1::PCM16, rate, channels);
}

std::string ExpectedReplyAudio() {
  return testing::MockReplyAudio(kHelloReply, kBytesPerChar, Pcm16(16000, 1));
}

class ClientsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stt_ = testing::StartServer("services/stt/stt_server",
                                {"--provider=mock", "--mock_transcriptions=hello there",
                                 "--mock_latency_ms=10", "--mock_interim_every_ms=100"});
    tts_ = testing::StartServer(
        "services/tts/tts_server",
        {"--provider=mock", absl::StrCat("--mock_bytes_per_char=", kBytesPerChar),
         "--mock_latency_ms=0"});
    orchestrator_ = testing::StartServer("services/orchestrator/orchestrator_server",
                                         {absl::StrCat("--stt_target=", stt_->address()),
                                          absl::StrCat("--tts_target=", tts_->address())});
    // The question: 1 s of a tone, 16-bit at 22.05 kHz stereo (the clients send it as it is).
    question_ = TempPath("question.wav");
    ASSERT_TRUE(voxctl::WriteWavFile(question_, testing::TonePcm16(22050, 2, 1000, 300, 3000),
                                     Pcm16(22050, 2))
                    .ok());
  }
  static void TearDownTestSuite() {
    orchestrator_.reset();
    tts_.reset();
    stt_.reset();
  }

  // Runs a client and checks the conversation it printed and the WAV it wrote.
  static void ExpectConversation(const std::string& binary, const std::vector<std::string>& args,
                                 const std::string& reply_path) {
    absl::StatusOr<CommandResult> result = RunCommand(binary, args, absl::Seconds(60));
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->exit_code, 0) << result->out << result->err;
    EXPECT_THAT(result->out, AllOf(HasSubstr(": pipeline voice_chat\n"), HasSubstr("  ... hello\n"),
                                   HasSubstr("you (turn 1): hello there\n"),
                                   HasSubstr(absl::StrCat("voxflow (turn 1): ", kHelloReply, "\n")),
                                   HasSubstr("turn 1 completed: voice-to-voice "),
                                   HasSubstr(absl::StrCat("wrote ", reply_path, ": "))));
    voxctl::SoundFileInfo info;
    absl::StatusOr<std::string> reply = voxctl::ReadSoundFile(reply_path, Pcm16(16000, 1), &info);
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(info.sample_rate, 16000);
    EXPECT_EQ(info.channels, 1);
    EXPECT_TRUE(*reply == ExpectedReplyAudio()) << "the mock TTS audio of the reply";
  }

  static inline std::unique_ptr<ServerProcess> stt_, tts_, orchestrator_;
  static inline std::string question_;
};

TEST_F(ClientsTest, PythonClientConverses) {
  const std::string reply = TempPath("python_reply.wav");
  ExpectConversation("/usr/bin/python3",
                     {"examples/python/converse.py", "--target", orchestrator_->address(), "--in",
                      question_, "--out", reply, "--proto_root", RealPath("proto")},
                     reply);
}

// The Python example's tools: the model (the fake OpenAI-compatible server) calls get_time, the
// example runs it and answers over the same stream, and the reply says what it answered.
TEST_F(ClientsTest, PythonClientAnswersTheModelsToolCalls) {
  orchestrator::testing::FakeOpenAiServer model;
  auto orchestrator =
      testing::StartServer("services/orchestrator/orchestrator_server",
                           {absl::StrCat("--stt_target=", stt_->address()),
                            absl::StrCat("--tts_target=", tts_->address()), "--llm_provider=openai",
                            absl::StrCat("--llm_base_url=", model.base_url()), "--llm_model=tool"});
  ASSERT_NE(orchestrator, nullptr);
  absl::StatusOr<CommandResult> result =
      RunCommand("/usr/bin/python3",
                 {"examples/python/converse.py", "--target", orchestrator->address(), "--text",
                  "What time is it in Tokyo?", "--tools", "--proto_root", RealPath("proto")},
                 absl::Seconds(60));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->exit_code, 0) << result->out << result->err;
  EXPECT_THAT(
      result->out,
      AllOf(
          HasSubstr(
              R"(tool get_time({"timezone":"Asia/Tokyo"}) -> {"timezone": "Asia/Tokyo", "time": ")"),
          HasSubstr(R"(voxflow (turn 1): Tool said: {"timezone": "Asia/Tokyo", "time": ")"),
          HasSubstr("turn 1 completed: ")));
  EXPECT_THAT(model.bodies().front(), HasSubstr(R"("name":"get_time")"));
}

TEST_F(ClientsTest, NodeClientConverses) {
  if (const std::string reason = NpmUnavailable(); !reason.empty()) {
    GTEST_SKIP() << "Node client test skipped: " << reason;
  }
  // The packages npm ci installed for @npm (package-lock.json), wherever the script resolves to.
  setenv("NODE_PATH", RealPath("../npm/node_modules").c_str(), 1);
  const std::string reply = TempPath("node_reply.wav");
  ExpectConversation("/usr/bin/env",
                     {"node", "examples/node/converse.js", "--target", orchestrator_->address(),
                      "--in", question_, "--out", reply, "--proto_root", RealPath("proto")},
                     reply);
}

TEST_F(ClientsTest, ClientsSayWhichAddressIsUnreachable) {
  setenv("NODE_PATH", RealPath("../npm/node_modules").c_str(), 1);
  std::vector<std::vector<std::string>> clients = {
      {"/usr/bin/python3", "examples/python/converse.py"}};
  if (NpmUnavailable().empty())
    clients.push_back({"/usr/bin/env", "node", "examples/node/converse.js"});
  for (const auto& command : clients) {
    std::vector<std::string> args(command.begin() + 1, command.end());
    args.insert(args.end(),
                {"--target", "127.0.0.1:1", "--in", question_, "--proto_root", RealPath("proto")});
    absl::StatusOr<CommandResult> result = RunCommand(command[0], args, absl::Seconds(60));
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->exit_code, 1) << command[1];
    EXPECT_THAT(result->err, HasSubstr("cannot reach the orchestrator at 127.0.0.1:1"))
        << command[1];
  }
}

}  // namespace
}  // namespace voxflow
