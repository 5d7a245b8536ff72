// Each server binary as a real process: it listens on a free port, reports SERVING over
// grpc.health.v1, lists its service through reflection, refuses a bad or not-yet-built RPC with
// its status and keeps serving, and on SIGTERM flips health to NOT_SERVING and exits 0 within 5 s
// with a stream open.
#include <signal.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "tests/util/server_process.h"
#include "voxflow/v1/orchestrator.grpc.pb.h"
#include "voxflow/v1/stt.grpc.pb.h"
#include "voxflow/v1/tts.grpc.pb.h"

namespace voxflow {
namespace {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::testing::Contains;

struct ServerCase {
  std::string binary;
  std::string service;
  // Calls one RPC with a request it must refuse (malformed, or not built yet) ...
  std::function<grpc::Status(const std::shared_ptr<grpc::Channel>&)> call_refused_rpc;
  // ... and the status it must refuse it with.
  grpc::StatusCode refusal;
};

// Names the case in failure messages instead of dumping its bytes.
void PrintTo(const ServerCase& c, std::ostream* os) { *os << c.binary; }

std::chrono::system_clock::time_point In(absl::Duration d) {
  return absl::ToChronoTime(absl::Now() + d);
}

std::vector<ServerCase> Cases() {
  return {
      {"services/stt/stt_server", "voxflow.v1.SpeechToText",
       [](const std::shared_ptr<grpc::Channel>& channel) {
         grpc::ClientContext context;
         context.set_deadline(In(absl::Seconds(30)));
         v1::RecognizeClipResponse response;
         return v1::SpeechToText::NewStub(channel)->Recognize(&context, {}, &response);
       },
       grpc::StatusCode::INVALID_ARGUMENT},
      {"services/tts/tts_server", "voxflow.v1.TextToSpeech",
       [](const std::shared_ptr<grpc::Channel>& channel) {
         grpc::ClientContext context;
         context.set_deadline(In(absl::Seconds(30)));
         v1::SynthesizeClipResponse response;
         return v1::TextToSpeech::NewStub(channel)->Synthesize(&context, {}, &response);
       },
       grpc::StatusCode::INVALID_ARGUMENT},
      {"services/orchestrator/orchestrator_server", "voxflow.v1.Orchestrator",
       [](const std::shared_ptr<grpc::Channel>& channel) {
         grpc::ClientContext context;
         context.set_deadline(In(absl::Seconds(30)));
         auto stream = v1::Orchestrator::NewStub(channel)->Converse(&context);
         stream->WritesDone();
         v1::ConverseEvent event;
         while (stream->Read(&event)) {
         }
         return stream->Finish();  // Ended before a SessionConfig.
       },
       grpc::StatusCode::INVALID_ARGUMENT},
  };
}

class ServerLifecycleTest : public ::testing::TestWithParam<ServerCase> {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<testing::ServerProcess>> process =
        testing::ServerProcess::Start(GetParam().binary, {"--drain_timeout=2s"});
    ASSERT_TRUE(process.ok()) << process.status();
    process_ = *std::move(process);
    channel_ = grpc::CreateChannel(process_->address(), grpc::InsecureChannelCredentials());
    ASSERT_TRUE(channel_->WaitForConnected(In(absl::Seconds(30))));
  }

  HealthCheckResponse::ServingStatus Check(const std::string& service, grpc::Status* status) {
    grpc::ClientContext context;
    context.set_deadline(In(absl::Seconds(30)));
    HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    *status = grpc::health::v1::Health::NewStub(channel_)->Check(&context, request, &response);
    return response.status();
  }

  std::unique_ptr<testing::ServerProcess> process_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_P(ServerLifecycleTest, HealthSaysServing) {
  grpc::Status status;
  EXPECT_EQ(Check("", &status), HealthCheckResponse::SERVING);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(Check(GetParam().service, &status), HealthCheckResponse::SERVING);
  EXPECT_TRUE(status.ok()) << status.error_message();
  Check("no.such.Service", &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_P(ServerLifecycleTest, ReflectionListsTheService) {
  grpc::ClientContext context;
  context.set_deadline(In(absl::Seconds(30)));
  auto stub = grpc::reflection::v1alpha::ServerReflection::NewStub(channel_);
  auto stream = stub->ServerReflectionInfo(&context);
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_list_services("");
  ASSERT_TRUE(stream->Write(request));
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::vector<std::string> services;
  for (const auto& service : response.list_services_response().service()) {
    services.push_back(service.name());
  }
  EXPECT_THAT(services, Contains(GetParam().service));
  EXPECT_THAT(services, Contains("grpc.health.v1.Health"));
  EXPECT_TRUE(stream->Finish().ok());

  // The API's files are served too, so tools like grpcurl can build requests.
  grpc::ClientContext file_context;
  file_context.set_deadline(In(absl::Seconds(30)));
  auto file_stream = stub->ServerReflectionInfo(&file_context);
  request.set_file_containing_symbol(GetParam().service);
  ASSERT_TRUE(file_stream->Write(request));
  file_stream->WritesDone();
  ASSERT_TRUE(file_stream->Read(&response));
  EXPECT_GE(response.file_descriptor_response().file_descriptor_proto_size(), 1)
      << response.error_response().error_message();
  EXPECT_TRUE(file_stream->Finish().ok());
}

TEST_P(ServerLifecycleTest, RefusedRpcGetsItsStatus) {
  EXPECT_EQ(GetParam().call_refused_rpc(channel_).error_code(), GetParam().refusal);
  // The server keeps serving afterwards.
  grpc::Status status;
  EXPECT_EQ(Check("", &status), HealthCheckResponse::SERVING);
}

TEST_P(ServerLifecycleTest, SigtermWithAnOpenStreamExitsZeroWithinFiveSeconds) {
  // A server-streaming call that stays open until the server ends it.
  grpc::ClientContext context;
  context.set_deadline(In(absl::Seconds(60)));
  HealthCheckRequest request;
  auto watch = grpc::health::v1::Health::NewStub(channel_)->Watch(&context, request);
  HealthCheckResponse response;
  ASSERT_TRUE(watch->Read(&response));
  ASSERT_EQ(response.status(), HealthCheckResponse::SERVING);

  const absl::Time start = absl::Now();
  process_->Signal(SIGTERM);
  // Health flips before the server stops, so watchers (load balancers, probes) see it.
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);

  absl::StatusOr<int> code = process_->WaitForExit(absl::Seconds(5) - (absl::Now() - start));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  while (watch->Read(&response)) {
  }
  watch->Finish();
}

INSTANTIATE_TEST_SUITE_P(AllServers, ServerLifecycleTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<ServerCase>& info) {
                           const std::string& b = info.param.binary;
                           return b.substr(b.rfind('/') + 1);
                         });

}  // namespace
}  // namespace voxflow
