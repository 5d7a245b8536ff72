// TLS, mutual TLS and bearer tokens across real processes: certificates made with openssl for the
// test, servers started with --tls_cert/--tls_key/--tls_client_ca/--auth_tokens_file.
#include "services/common/security.h"

#include <csignal>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "tests/util/certificates.h"
#include "tests/util/command.h"
#include "tests/util/server_process.h"
#include "voxflow/v1/stt.grpc.pb.h"
#include "voxflow/v1/tts.grpc.pb.h"

namespace voxflow {
namespace {

using ::testing::HasSubstr;
using testing::RunCommand;
using testing::ServerProcess;

std::string Dir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}
std::string PathOf(const std::string& name) { return absl::StrCat(Dir(), "/", name); }

// A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all signed by it;
// bearer token files.
void MakeCertificates() {
  ASSERT_TRUE(testing::MakeTestCertificates(Dir()).ok());
  std::ofstream(PathOf("tokens")) << "# accepted tokens\nsecret-one\n\nsecret-two\n";
  std::ofstream(PathOf("token")) << "secret-two\n";
}

std::vector<std::string> TlsFlags() {
  return {"--tls_cert=" + PathOf("server.pem"), "--tls_key=" + PathOf("server.key")};
}

std::shared_ptr<grpc::Channel> Channel(const std::string& address, ClientSecurity security) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      MakeChannelCredentials(security);
  EXPECT_TRUE(credentials.ok()) << credentials.status();
  return grpc::CreateChannel(address, *credentials);
}

grpc::Status Recognize(const std::shared_ptr<grpc::Channel>& channel) {
  v1::RecognizeClipRequest request;
  request.mutable_config()->set_language("en-US");
  v1::AudioStreamFormat* format = request.mutable_config()->mutable_audio_format();
  format->set_format(v1::PCM16);
  format->set_sample_rate(16000);
  format->set_channels(1);
  request.set_audio(std::string(3200, '\0'));
  v1::RecognizeClipResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return v1::SpeechToText::NewStub(channel)->Recognize(&context, request, &response);
}

class SecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { MakeCertificates(); }
};

TEST_F(SecurityTest, BearerTokensOverTls) {
  std::vector<std::string> args = TlsFlags();
  args.insert(args.end(), {"--provider=mock", "--auth_tokens_file=" + PathOf("tokens")});
  auto stt = ServerProcess::Start("services/stt/stt_server", args);
  ASSERT_TRUE(stt.ok()) << stt.status();
  const std::string address = (*stt)->address();
  const std::string ca = PathOf("ca.pem");

  EXPECT_TRUE(Recognize(Channel(address, {.tls_ca_file = ca, .auth_token = "secret-one"})).ok());
  EXPECT_TRUE(Recognize(Channel(address, {.tls_ca_file = ca, .auth_token = "secret-two"})).ok());
  const grpc::Status bad = Recognize(Channel(address, {.tls_ca_file = ca, .auth_token = "guess"}));
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(bad.error_message(), "invalid bearer token");
  const grpc::Status none = Recognize(Channel(address, {.tls_ca_file = ca}));
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(none.error_message(), HasSubstr("missing bearer token"));
  // Plaintext to a TLS server does not get through at all.
  EXPECT_EQ(Recognize(Channel(address, {})).error_code(), grpc::StatusCode::UNAVAILABLE);

  // Health needs no token (Kubernetes probes carry none).
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(grpc::health::v1::Health::NewStub(Channel(address, {.tls_ca_file = ca}))
                  ->Check(&context, request, &response)
                  .ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(SecurityTest, JsonLogsStayJsonWhenGrpcComplains) {
  // gRPC logs a failed TLS handshake itself; those lines used to bypass the JSON formatter.
  std::vector<std::string> args = TlsFlags();
  args.insert(args.end(), {"--provider=mock", "--log_format=json"});
  const std::string log_path = PathOf("stt_json.log");
  auto stt = ServerProcess::Start("services/stt/stt_server", args, absl::Seconds(60), log_path);
  ASSERT_TRUE(stt.ok()) << stt.status();
  // Plaintext against TLS: the server's handshake fails.
  EXPECT_EQ(Recognize(Channel((*stt)->address(), {})).error_code(), grpc::StatusCode::UNAVAILABLE);
  (*stt)->Signal(SIGTERM);
  ASSERT_TRUE((*stt)->WaitForExit(absl::Seconds(30)).ok());

  std::ifstream log(log_path);
  int lines = 0;
  bool grpc_line = false;
  for (std::string line; std::getline(log, line);) {
    ++lines;
    EXPECT_TRUE(line.size() >= 2 && line.front() == '{' && line.back() == '}')
        << "not a JSON object: " << line;
    grpc_line |= line.find("\"msg\":\"grpc: ") != std::string::npos;
  }
  EXPECT_GT(lines, 2);
  EXPECT_TRUE(grpc_line) << "gRPC's handshake error was not logged through spdlog";
}

TEST_F(SecurityTest, MutualTlsWantsAClientCertificate) {
  std::vector<std::string> args = TlsFlags();
  args.insert(args.end(), {"--provider=mock", "--tls_client_ca=" + PathOf("ca.pem")});
  auto tts = ServerProcess::Start("services/tts/tts_server", args);
  ASSERT_TRUE(tts.ok()) << tts.status();
  auto list = [](const std::shared_ptr<grpc::Channel>& channel) {
    v1::ListVoicesRequest request;
    v1::ListVoicesResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return v1::TextToSpeech::NewStub(channel)->ListVoices(&context, request, &response);
  };
  const std::string ca = PathOf("ca.pem");
  EXPECT_EQ(list(Channel((*tts)->address(), {.tls_ca_file = ca})).error_code(),
            grpc::StatusCode::UNAVAILABLE)
      << "no client certificate: the handshake fails";
  EXPECT_TRUE(list(Channel((*tts)->address(), {.tls_ca_file = ca,
                                               .tls_cert_file = PathOf("client.pem"),
                                               .tls_key_file = PathOf("client.key")}))
                  .ok());
}

TEST_F(SecurityTest, ConversationOverTlsEndToEnd) {
  std::vector<std::string> backend = TlsFlags();
  backend.insert(backend.end(),
                 {"--auth_tokens_file=" + PathOf("tokens"), "--tls_client_ca=" + PathOf("ca.pem")});
  std::vector<std::string> stt_args = backend, tts_args = backend;
  stt_args.insert(stt_args.end(), {"--provider=mock", "--mock_transcriptions=hello there"});
  tts_args.insert(tts_args.end(), {"--provider=mock", "--mock_latency_ms=0"});
  auto stt = ServerProcess::Start("services/stt/stt_server", stt_args);
  auto tts = ServerProcess::Start("services/tts/tts_server", tts_args);
  ASSERT_TRUE(stt.ok() && tts.ok());
  std::vector<std::string> orchestrator_args = TlsFlags();
  orchestrator_args.insert(
      orchestrator_args.end(),
      {absl::StrCat("--stt_target=", (*stt)->address()),
       absl::StrCat("--tts_target=", (*tts)->address()), "--backend_tls_ca=" + PathOf("ca.pem"),
       "--backend_tls_cert=" + PathOf("client.pem"), "--backend_tls_key=" + PathOf("client.key"),
       "--backend_auth_token_file=" + PathOf("token"), "--auth_tokens_file=" + PathOf("tokens")});
  auto orchestrator =
      ServerProcess::Start("services/orchestrator/orchestrator_server", orchestrator_args);
  ASSERT_TRUE(orchestrator.ok()) << orchestrator.status();

  // A question WAV (silence is enough for the mock recognizer).
  const std::string question = PathOf("question.wav");
  absl::StatusOr<testing::CommandResult> made =
      RunCommand("/usr/bin/env",
                 {"python3", "-c",
                  absl::StrCat("import wave; w = wave.open('", question,
                               "', 'wb'); w.setnchannels(1); w.setsampwidth(2); "
                               "w.setframerate(16000); w.writeframes(bytes(16000)); w.close()")});
  ASSERT_TRUE(made.ok() && made->exit_code == 0);
  absl::StatusOr<testing::CommandResult> result = RunCommand(
      "tools/voxctl/voxctl",
      {"converse", "--in", question, absl::StrCat("--target=", (*orchestrator)->address()),
       "--tls_ca=" + PathOf("ca.pem"), "--auth_token_file=" + PathOf("token")});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 0) << result->out << result->err;
  EXPECT_THAT(result->out, HasSubstr("you (turn 1): hello there\n"));
  EXPECT_THAT(result->out, HasSubstr("voxflow (turn 1): Hello!"));

  // Without the token the orchestrator answers UNAUTHENTICATED, and voxctl prints it.
  result = RunCommand("tools/voxctl/voxctl", {"converse", "--in", question,
                                              absl::StrCat("--target=", (*orchestrator)->address()),
                                              "--tls_ca=" + PathOf("ca.pem")});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 1);
  EXPECT_THAT(result->err, HasSubstr("answered UNAUTHENTICATED: missing bearer token"));
}

TEST_F(SecurityTest, TokensWithoutTlsAreRefusedAtStart) {
  auto stt = ServerProcess::Start("services/stt/stt_server",
                                  {"--provider=mock", "--auth_tokens_file=" + PathOf("tokens")});
  ASSERT_FALSE(stt.ok());
  EXPECT_THAT(stt.status().message(), HasSubstr("exited before listening"));
}

}  // namespace
}  // namespace voxflow
