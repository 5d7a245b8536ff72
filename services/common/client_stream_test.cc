#include "services/common/client_stream.h"

#include <memory>
#include <string>
#include <vector>

#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "voxflow/v1/stt.grpc.pb.h"

namespace voxflow {
namespace {

using Stream = ClientStream<v1::RecognizeRequest, v1::RecognizeResponse>;

// Answers each audio chunk with a transcript holding its sequence number; on end_of_input sends
// `burst` more transcripts, then ends with `status`.
class FakeStt : public v1::SpeechToText::Service {
 public:
  int burst = 0;
  grpc::Status status = grpc::Status::OK;

  grpc::Status StreamingRecognize(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<v1::RecognizeResponse, v1::RecognizeRequest>* stream) override {
    v1::RecognizeRequest request;
    while (stream->Read(&request)) {
      v1::RecognizeResponse response;
      if (request.has_audio()) {
        response.mutable_transcript()->set_text(std::to_string(request.audio().sequence()));
        stream->Write(response);
      } else if (request.end_of_input()) {
        for (int i = 0; i < burst; ++i) {
          response.mutable_transcript()->set_text("burst " + std::to_string(i));
          stream->Write(response);
        }
        break;
      }
    }
    return status;
  }
};

class ClientStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    stub_ = v1::SpeechToText::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                          grpc::InsecureChannelCredentials()));
  }
  void TearDown() override { server_->Shutdown(); }

  void Bind(Stream& stream) {
    stub_->async()->StreamingRecognize(stream.context(), &stream);
    stream.Start();
  }

  static v1::RecognizeRequest Audio(uint64_t sequence) {
    v1::RecognizeRequest request;
    request.mutable_audio()->set_data("xx");
    request.mutable_audio()->set_sequence(sequence);
    return request;
  }
  static v1::RecognizeRequest End() {
    v1::RecognizeRequest request;
    request.set_end_of_input(true);
    return request;
  }

  FakeStt service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::SpeechToText::Stub> stub_;
};

TEST_F(ClientStreamTest, HandlerGetsEveryResponseInOrder) {
  std::mutex mu;
  std::vector<std::string> seen;
  bool ended = false;
  Stream::Options options;
  options.max_pending_writes = 4;  // Writes block and resume as they go out.
  options.on_response = [&](v1::RecognizeResponse& r) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(r.transcript().text());
  };
  options.on_read_end = [&] {
    std::lock_guard<std::mutex> lock(mu);
    ended = true;
  };
  Stream stream(std::move(options));
  Bind(stream);
  for (uint64_t i = 1; i <= 200; ++i) ASSERT_TRUE(stream.Write(Audio(i)));
  ASSERT_TRUE(stream.Write(End()));
  stream.WritesDone();
  EXPECT_TRUE(stream.Finish().ok());
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(seen.size(), 200u);
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], std::to_string(i + 1));
  EXPECT_TRUE(ended);
}

TEST_F(ClientStreamTest, InboxPausesReadingAndLosesNothing) {
  service_.burst = 300;
  Stream::Options options;
  options.max_inbox = 2;  // The server's burst waits in HTTP/2 flow control, not here.
  Stream stream(std::move(options));
  Bind(stream);
  ASSERT_TRUE(stream.Write(End()));
  stream.WritesDone();
  v1::RecognizeResponse response;
  int count = 0;
  while (stream.Read(&response)) {
    EXPECT_EQ(response.transcript().text(), "burst " + std::to_string(count));
    ++count;
  }
  EXPECT_EQ(count, 300);
  EXPECT_TRUE(stream.Finish().ok());
}

TEST_F(ClientStreamTest, ServerStatusAndWritesAfterTheEnd) {
  service_.status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "config.language is required");
  Stream stream(Stream::Options{});
  Bind(stream);
  ASSERT_TRUE(stream.Write(End()));
  v1::RecognizeResponse response;
  EXPECT_FALSE(stream.Read(&response));  // The server ended the stream.
  const grpc::Status status = stream.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "config.language is required");
  EXPECT_FALSE(stream.Write(Audio(1))) << "nothing can be written after the call ended";
}

TEST_F(ClientStreamTest, CancelEndsTheCall) {
  Stream stream(Stream::Options{});
  Bind(stream);
  ASSERT_TRUE(stream.Write(Audio(1)));
  stream.context()->TryCancel();
  EXPECT_EQ(stream.Finish().error_code(), grpc::StatusCode::CANCELLED);
}

}  // namespace
}  // namespace voxflow
