// The API from other languages: the Python and Node.js client examples each run a whole
// conversation against real service processes (mock engines) and write the reply WAV.
#include <stdlib.h>

#include <climits>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mocks/mock_tts_engine.h"
#include "services/orchestrator/llm_client.h"
#include "tests/util/command.h"
#include "tests/util/server_process.h"
#include "tools/voxctl/wav_file.h"

namespace voxflow {
namespace {

using ::testing::AllOf;
using testing::CommandResult;
using ::testing::HasSubstr;
using testing::RunCommand;
using testing::ServerProcess;

constexpr int kBytesPerChar = 64;
constexpr char kHelloReply[] = "Hello! I am Voxflow, a voice pipeline. How can I help you today?";

v1::AudioStreamFormat Pcm16(int rate, int channels) {
  v1::AudioStreamFormat format;
  format.set_format(v1::PCM16);
  format.set_sample_rate(rate);
  format.set_channels(channels);
  return format;
}

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

std::string RealPath(const std::string& path) {
  char resolved[PATH_MAX];
  return realpath(path.c_str(), resolved) != nullptr ? resolved : path;
}

std::string ExpectedReplyAudio() {
  orchestrator::SentenceSplitter splitter;
  std::vector<std::string> sentences = splitter.Append(kHelloReply);
  if (std::string rest = splitter.Flush(); !rest.empty()) sentences.push_back(rest);
  std::string audio;
  for (const std::string& s : sentences) {
    audio += mocks::MockTtsEngine::AudioFor(s, kBytesPerChar, Pcm16(16000, 1));
  }
  return audio;
}

class ClientsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stt_ =
        Start("services/stt/stt_server", {"--provider=mock", "--mock_transcriptions=hello there",
                                          "--mock_latency_ms=10", "--mock_interim_every_ms=100"});
    tts_ = Start("services/tts/tts_server",
                 {"--provider=mock", absl::StrCat("--mock_bytes_per_char=", kBytesPerChar),
                  "--mock_latency_ms=0"});
    orchestrator_ = Start("services/orchestrator/orchestrator_server",
                          {absl::StrCat("--stt_target=", stt_->address()),
                           absl::StrCat("--tts_target=", tts_->address())});
    // The question: 1 s of a tone, 16-bit at 22.05 kHz stereo (the clients send it as it is).
    question_ = TempPath("question.wav");
    std::string pcm;
    for (int i = 0; i < 22050; ++i) {
      const auto v = static_cast<int16_t>(3000 * std::sin(2 * M_PI * 300.0 * i / 22050));
      for (int c = 0; c < 2; ++c) pcm.append(reinterpret_cast<const char*>(&v), 2);
    }
    ASSERT_TRUE(voxctl::WriteWavFile(question_, pcm, Pcm16(22050, 2)).ok());
  }
  static void TearDownTestSuite() {
    orchestrator_.reset();
    tts_.reset();
    stt_.reset();
  }

  static std::unique_ptr<ServerProcess> Start(const char* binary,
                                              const std::vector<std::string>& args) {
    auto process = ServerProcess::Start(binary, args);
    EXPECT_TRUE(process.ok()) << process.status();
    return process.ok() ? *std::move(process) : nullptr;
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

TEST_F(ClientsTest, NodeClientConverses) {
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
  for (const auto& command : std::vector<std::vector<std::string>>{
           {"/usr/bin/python3", "examples/python/converse.py"},
           {"/usr/bin/env", "node", "examples/node/converse.js"}}) {
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
