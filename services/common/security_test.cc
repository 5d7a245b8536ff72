#include "services/common/security.h"

#include <map>
#include <memory>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"

namespace voxflow {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Captures what the default logger writes while alive.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

grpc::Status Authenticate(const std::multimap<std::string, std::string>& headers) {
  BearerTokenAuthenticator authenticator({"right-token"});
  grpc::AuthMetadataProcessor::InputMetadata metadata;
  for (const auto& [key, value] : headers) {
    metadata.emplace(grpc::string_ref(key), grpc::string_ref(value));
  }
  grpc::AuthMetadataProcessor::OutputMetadata consumed, response;
  return authenticator.Process(metadata, nullptr, &consumed, &response);
}

TEST(BearerTokenAuthenticatorTest, RefusalsAreLoggedWithoutTheToken) {
  LogCapture log;
  EXPECT_EQ(Authenticate({{":path", "/voxflow.v1.Orchestrator/Converse"},
                          {"authorization", "Bearer wrong-token"}})
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Authenticate({{":path", "/voxflow.v1.SpeechToText/Recognize"}}).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(log.text(), HasSubstr("authentication failed: method='/voxflow.v1.Orchestrator/"
                                    "Converse' peer_identity='none' reason=invalid bearer token"));
  EXPECT_THAT(log.text(), HasSubstr("reason=missing bearer token"));
  EXPECT_THAT(log.text(), Not(HasSubstr("wrong-token")));
}

TEST(BearerTokenAuthenticatorTest, TheRightTokenAndHealthChecksPass) {
  LogCapture log;
  EXPECT_TRUE(Authenticate({{":path", "/voxflow.v1.Orchestrator/Converse"},
                            {"authorization", "Bearer right-token"}})
                  .ok());
  EXPECT_TRUE(Authenticate({{":path", "/grpc.health.v1.Health/Check"}}).ok());
  EXPECT_EQ(log.text(), "");
}

}  // namespace
}  // namespace voxflow
