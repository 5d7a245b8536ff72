// gRPC calls whose request bytes the test chooses (a generic stub), for what a typed stub cannot
// send: bytes that do not parse, a stream that is never read.
#ifndef VOXFLOW_TESTS_UTIL_RAW_CALL_H_
#define VOXFLOW_TESTS_UTIL_RAW_CALL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/generic/generic_stub.h"

namespace voxflow::testing {

struct RawResult {
  grpc::Status status;
  std::vector<std::string> responses;  // Serialized, in order.
};

// A unary call of `method` ("/pkg.Service/Method") with `request` as its bytes.
RawResult RawUnaryCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                       const std::string& request, absl::Duration deadline = absl::Seconds(30));

// A bidirectional stream: starts it and writes `requests` (bytes each); then Finish() reads.
class RawStream {
 public:
  RawStream(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
            absl::Duration deadline = absl::Seconds(60));
  ~RawStream();
  // False once the stream is broken (the server ended it).
  bool Write(const std::string& bytes);
  // Half-closes, reads every response, and returns them with the status.
  RawResult Finish();

 private:
  bool Await();

  grpc::CompletionQueue cq_;
  grpc::ClientContext context_;
  grpc::GenericStub stub_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  bool started_ = false;
  bool finished_ = false;
};

// Sends `requests` on a new stream, half-closes and reads to the end.
RawResult RawStreamCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                        const std::vector<std::string>& requests,
                        absl::Duration deadline = absl::Seconds(60));

}  // namespace voxflow::testing

#endif  // VOXFLOW_TESTS_UTIL_RAW_CALL_H_
