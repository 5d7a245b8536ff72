// voxctl as a user runs it: the real binary against real service processes (mock engines), its
// printed output, the WAV files it writes, and its error messages.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mocks/mock_tts_engine.h"
#include "services/common/audio_chunk.h"
#include "tests/util/command.h"
#include "tests/util/fixtures.h"
#include "tests/util/server_process.h"
#include "tools/voxctl/wav_file.h"

namespace voxflow {
namespace {

using ::testing::AllOf;
using testing::CommandResult;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using testing::RunCommand;
using testing::ServerProcess;
using ::testing::StartsWith;
using testing::TempPath;

constexpr char kVoxctl[] = "tools/voxctl/voxctl";
constexpr char kStt[] = "services/stt/stt_server";
constexpr char kTts[] = "services/tts/tts_server";
constexpr char kOrchestrator[] = "services/orchestrator/orchestrator_server";
constexpr int kBytesPerChar = 64;
// The default pipeline's reply to "hello there" (its rule.hello).
constexpr char kHelloReply[] = "Hello! I am Voxflow, a voice pipeline. How can I help you today?";

v1::AudioStreamFormat Pcm16(int rate, int channels) {
  return MakeStreamFormat(v1::PCM16, rate, channels);
}

std::string ExpectedReplyAudio(const std::string& reply, const v1::AudioStreamFormat& format) {
  return testing::MockReplyAudio(reply, kBytesPerChar, format);
}

// A port nothing listens on: bound once by us, then closed.
int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

class VoxctlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stt_ = testing::StartServer(
        kStt, {"--provider=mock", "--mock_transcriptions=hello there", "--mock_latency_ms=10",
               "--mock_latency_jitter_ms=0", "--mock_interim_every_ms=100"});
    tts_ = testing::StartServer(
        kTts, {"--provider=mock", absl::StrCat("--mock_bytes_per_char=", kBytesPerChar),
               "--mock_latency_ms=0"});
    orchestrator_ =
        testing::StartServer(kOrchestrator, {absl::StrCat("--stt_target=", stt_->address()),
                                             absl::StrCat("--tts_target=", tts_->address())});
    // The question: 1.5 s of a tone at 44.1 kHz stereo, so voxctl has to convert it.
    question_ = TempPath("question.wav");
    ASSERT_TRUE(voxctl::WriteWavFile(question_, testing::TonePcm16(44100, 2, 1500, 300, 3000),
                                     Pcm16(44100, 2))
                    .ok());
  }
  static void TearDownTestSuite() {
    orchestrator_.reset();
    tts_.reset();
    stt_.reset();
  }

  static CommandResult Voxctl(const std::vector<std::string>& args) {
    absl::StatusOr<CommandResult> result = RunCommand(kVoxctl, args, absl::Seconds(60));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : CommandResult{};
  }

  static inline std::unique_ptr<ServerProcess> stt_, tts_, orchestrator_;
  static inline std::string question_;
};

TEST_F(VoxctlTest, ConversePrintsTheTurnAndWritesTheReplyWav) {
  const std::string reply_path = TempPath("reply.wav");
  const CommandResult result = Voxctl({"converse", "--in", question_, "--out", reply_path,
                                       absl::StrCat("--target=", orchestrator_->address())});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_EQ(result.err, "");
  EXPECT_THAT(
      result.out,
      AllOf(HasSubstr(absl::StrCat(question_,
                                   ": 1.5 s, 44100 Hz, 2 channel(s); sending it as "
                                   "16-bit mono 16000 Hz\n")),
            HasSubstr("session "), HasSubstr(": pipeline voice_chat (stt, "),
            HasSubstr("  ... hello\n"),  // An interim transcript.
            HasSubstr("sent all 1.5 s of audio\n"), HasSubstr("you (turn 1): hello there\n"),
            HasSubstr(absl::StrCat("voxflow (turn 1): ", kHelloReply, "\n")),
            HasSubstr("turn 1 completed\n  latency:\n"),
            HasSubstr("    end of speech -> final transcript "), HasSubstr("    voice-to-voice "),
            HasSubstr("    stages: llm "), HasSubstr(absl::StrCat("wrote ", reply_path, ": "))));
  EXPECT_THAT(result.out, ::testing::Not(HasSubstr("\r"))) << "no progress bar off a terminal";

  voxctl::SoundFileInfo info;
  absl::StatusOr<std::string> reply = voxctl::ReadSoundFile(reply_path, Pcm16(16000, 1), &info);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(info.sample_rate, 16000);
  EXPECT_EQ(info.channels, 1);
  const std::string expected = ExpectedReplyAudio(kHelloReply, Pcm16(16000, 1));
  EXPECT_EQ(reply->size(), expected.size());
  EXPECT_TRUE(*reply == expected) << "the WAV holds exactly the mock TTS audio of the reply";
}

TEST_F(VoxctlTest, ConverseJsonPrintsOneEventPerLine) {
  const CommandResult result = Voxctl({"converse", "--in", question_, "--json",
                                       absl::StrCat("--target=", orchestrator_->address())});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  std::vector<std::string> lines = absl::StrSplit(result.out, '\n', absl::SkipEmpty());
  ASSERT_GT(lines.size(), 5u);
  int64_t audio_bytes = 0;
  bool final_transcript = false, turn_completed = false;
  for (const std::string& line : lines) {
    EXPECT_THAT(line, AllOf(StartsWith("{\"elapsed_ms\":"), EndsWith("}")));
    final_transcript |=
        absl::StrContains(line, "\"transcript\":{\"text\":\"hello there\",\"is_final\":true");
    turn_completed |= absl::StrContains(line, "\"turn_completed\":{\"turn_id\":1,");
    if (size_t at = line.find("\"audio_bytes\":"); at != std::string::npos) {
      int64_t bytes = 0;
      ASSERT_TRUE(absl::SimpleAtoi(line.substr(at + 14, line.size() - at - 15), &bytes)) << line;
      audio_bytes += bytes;
    }
  }
  EXPECT_THAT(lines.front(), HasSubstr("\"session_started\""));
  EXPECT_TRUE(final_transcript);
  EXPECT_TRUE(turn_completed);
  EXPECT_EQ(audio_bytes, ExpectedReplyAudio(kHelloReply, Pcm16(16000, 1)).size());
}

TEST_F(VoxctlTest, SynthesizeTranscribeVoicesAndHealth) {
  const std::string speech = TempPath("speech.wav");
  CommandResult result = Voxctl(
      {"synthesize", "Good morning.", "--out", speech, absl::StrCat("--target=", tts_->address())});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, StartsWith(absl::StrCat("wrote ", speech, ": ")));
  absl::StatusOr<std::string> audio = voxctl::ReadSoundFile(speech, Pcm16(22050, 1));
  ASSERT_TRUE(audio.ok()) << audio.status();
  EXPECT_TRUE(*audio ==
              mocks::MockTtsEngine::AudioFor("Good morning.", kBytesPerChar, Pcm16(22050, 1)));

  result = Voxctl({"transcribe", speech, absl::StrCat("--target=", stt_->address())});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, StartsWith("hello there\t["));

  result = Voxctl({"voices", absl::StrCat("--target=", tts_->address())});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, AllOf(StartsWith("VOICE "), HasSubstr("mock-en-us ")));

  result = Voxctl({"health", absl::StrCat("--target=", stt_->address(), ",", tts_->address(), ",",
                                          orchestrator_->address())});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out,
            absl::StrFormat("%-24s SERVING\n%-24s SERVING\n%-24s SERVING\n", stt_->address(),
                            tts_->address(), orchestrator_->address()));
}

TEST_F(VoxctlTest, ErrorMessagesSayWhatAndWhere) {
  const std::string target = absl::StrCat("--target=", orchestrator_->address());
  // A file that is not there.
  CommandResult result = Voxctl({"converse", "--in", "/no/such/question.wav", target});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err, "voxctl converse: /no/such/question.wav: no such file\n");
  // A file that is not audio.
  const std::string text_file = TempPath("question.txt");
  std::ofstream(text_file) << "what is the weather like?\n";
  result = Voxctl({"converse", "--in", text_file, target});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, StartsWith(absl::StrCat("voxctl converse: ", text_file,
                                                  ": not a sound file libsndfile can read (")));
  // A file that cannot be read.
  const std::string locked = TempPath("locked.wav");
  ASSERT_TRUE(voxctl::WriteWavFile(locked, std::string(320, '\0'), Pcm16(16000, 1)).ok());
  chmod(locked.c_str(), 0);
  if (access(locked.c_str(), R_OK) != 0) {  // Root reads anything: then this case cannot happen.
    result = Voxctl({"converse", "--in", locked, target});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_EQ(result.err, absl::StrCat("voxctl converse: ", locked, ": Permission denied\n"));
  }
  // No service at the address: it is named.
  const std::string nowhere = absl::StrCat("127.0.0.1:", ClosedPort());
  // A refused connection fails at once, not after --connect_timeout (was the whole 5 s).
  const absl::Time start = absl::Now();
  result = Voxctl({"converse", "--in", question_, "--target=" + nowhere, "--connect_timeout=60s"});
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err, absl::StrCat("voxctl converse: cannot reach the orchestrator at ", nowhere,
                                     ": the connection failed (refused, unreachable, or a TLS "
                                     "mismatch; is it running there?)\n"));
  result = Voxctl({"voices", "--target=" + nowhere, "--connect_timeout=1s"});
  EXPECT_THAT(result.err,
              StartsWith(absl::StrCat("voxctl voices: cannot reach the TTS service at ", nowhere)));
  result = Voxctl({"health", "--target=" + nowhere, "--connect_timeout=1s"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, StartsWith(absl::StrCat("voxctl health: cannot reach ", nowhere)));
  // A status from the server: its message is printed.
  result = Voxctl({"converse", "--in", question_, target, "--pipeline=no_such_pipeline"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err,
              AllOf(StartsWith(absl::StrCat("voxctl converse: ", orchestrator_->address(),
                                            " answered INVALID_ARGUMENT: ")),
                    HasSubstr("no_such_pipeline")));
  result = Voxctl({"synthesize", "Hi.", "--out", TempPath("x.wav"), "--voice=nobody",
                   absl::StrCat("--target=", tts_->address())});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(
      result.err,
      absl::StrCat("voxctl synthesize: ", tts_->address(),
                   " answered INVALID_ARGUMENT: config.voice: unknown voice 'nobody' for provider "
                   "mock "
                   "(see ListVoices)\n"));
  // Usage mistakes exit 2 with the usage text.
  result = Voxctl({"frobnicate"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, StartsWith("voxctl: unknown command 'frobnicate'\n\nvoxctl COMMAND"));
  result = Voxctl({"synthesize"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, StartsWith("voxctl: synthesize takes one argument, the text (quoted)"));
  // A missing required flag is a usage mistake too (was exit 1).
  result = Voxctl({"converse", target});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, StartsWith("voxctl: converse needs --in QUESTION.wav\n\nvoxctl COMMAND"));
  result = Voxctl({"synthesize", "Hi.", absl::StrCat("--target=", tts_->address())});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, StartsWith("voxctl: synthesize needs --out FILE.wav"));
}

TEST_F(VoxctlTest, AServerOfAnotherKindIsNamedAsSuch) {
  // The STT server does not serve TextToSpeech: gRPC answers UNIMPLEMENTED with no message.
  CommandResult result = Voxctl({"voices", absl::StrCat("--target=", stt_->address())});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err,
            absl::StrCat("voxctl voices: ", stt_->address(),
                         " answered UNIMPLEMENTED: it does not serve voxflow.v1.TextToSpeech (a "
                         "Voxflow TTS service). Is --target a Voxflow server of that kind?\n"));
}

TEST_F(VoxctlTest, NoMatchingVoiceIsSaid) {
  CommandResult result =
      Voxctl({"voices", "--language=xx", absl::StrCat("--target=", tts_->address())});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err,
            "voxctl voices: no voice matches language 'xx' (`voxctl voices` lists them all)\n");
}

TEST_F(VoxctlTest, HelpAndVersionFollowCommandLineConventions) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--help"}, {"-h"}, {"help"}, {"converse", "--help"}}) {
    CommandResult result = Voxctl(args);
    EXPECT_EQ(result.exit_code, 0) << args[0];
    EXPECT_THAT(result.out, StartsWith("voxctl COMMAND [ARGS] [flags]")) << args[0];
    EXPECT_THAT(result.out, HasSubstr("Exit codes: 0 success, 1 the call failed, 2 a usage"));
    EXPECT_EQ(result.err, "");
  }
  CommandResult result = Voxctl({"help", "synthesize"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_THAT(result.out, StartsWith("voxctl synthesize \"TEXT\" --out FILE.wav"));
  result = Voxctl({"help", "frobnicate"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, StartsWith("voxctl: help: unknown command 'frobnicate'"));
  result = Voxctl({"--version"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_THAT(result.out, StartsWith("voxctl 0."));
  EXPECT_THAT(result.out, HasSubstr("(API voxflow.v1)"));
}

}  // namespace
}  // namespace voxflow
