#include "tests/util/raw_call.h"

#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/slice.h"

namespace voxflow::testing {
namespace {

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string ToString(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (!buffer.Dump(&slices).ok()) return bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return bytes;
}

// One operation at a time: the next event is that operation's.
bool Next(grpc::CompletionQueue& cq) {
  void* tag = nullptr;
  bool ok = false;
  return cq.Next(&tag, &ok) && ok;
}

}  // namespace

RawResult RawUnaryCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                       const std::string& request, absl::Duration deadline) {
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  grpc::GenericStub stub(channel);
  grpc::ByteBuffer request_buffer = ToBuffer(request);
  auto call = stub.PrepareUnaryCall(&context, method, request_buffer, &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  RawResult result;
  call->Finish(&response, &result.status, nullptr);
  Next(cq);
  if (result.status.ok()) result.responses.push_back(ToString(response));
  cq.Shutdown();
  while (Next(cq)) {
  }
  return result;
}

RawStream::RawStream(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                     absl::Duration deadline)
    : stub_(channel) {
  context_.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  call_ = stub_.PrepareCall(&context_, method, &cq_);
  call_->StartCall(nullptr);
  started_ = Next(cq_);
}

RawStream::~RawStream() {
  if (!finished_) {
    context_.TryCancel();
    (void)Finish();
  }
  cq_.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq_.Next(&tag, &ok)) {
  }
}

bool RawStream::Write(const std::string& bytes) {
  if (!started_) return false;
  call_->Write(ToBuffer(bytes), nullptr);
  return Next(cq_);
}

RawResult RawStream::Finish() {
  RawResult result;
  finished_ = true;
  if (started_) {
    call_->WritesDone(nullptr);
    (void)Next(cq_);
    while (true) {
      grpc::ByteBuffer response;
      call_->Read(&response, nullptr);
      if (!Next(cq_)) break;
      result.responses.push_back(ToString(response));
    }
  }
  call_->Finish(&result.status, nullptr);
  (void)Next(cq_);
  return result;
}

RawResult RawStreamCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                        const std::vector<std::string>& requests, absl::Duration deadline) {
  RawStream stream(channel, method, deadline);
  for (const std::string& request : requests) {
    if (!stream.Write(request)) break;
  }
  return stream.Finish();
}

}  // namespace voxflow::testing
