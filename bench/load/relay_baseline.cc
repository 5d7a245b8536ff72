// The load benchmark's baseline: what gRPC alone costs for the orchestrator's traffic shape.
//
//   --role=echo   an Echo service that returns every chunk it receives.
//   --role=relay  an Orchestrator.Converse service that forwards each audio chunk to the echo
//                 server over one gRPC stream per session and each echoed chunk back to the
//                 client as ReplyAudio; END_OF_INPUT travels as an is_final chunk and comes back
//                 as TurnCompleted. No DAG, no ChunkQueues, no jitter buffers: only the one
//                 pending-write list per stream that gRPC's callback API requires.
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/client_callback.h"
#include "grpcpp/support/server_callback.h"
#include "services/common/server.h"
#include "voxflow/bench/echo.grpc.pb.h"
#include "voxflow/v1/orchestrator.grpc.pb.h"

ABSL_FLAG(std::string, role, "relay", "echo or relay.");
ABSL_FLAG(int, port, 0, "Port to listen on; 0 picks a free one (printed at start-up).");
ABSL_FLAG(std::string, echo_target, "", "relay: the echo server.");

namespace voxflow::bench {
namespace {

// Echo: read, write it back, read the next (one message in flight each way).
class EchoReactor : public grpc::ServerBidiReactor<v1::AudioChunk, v1::AudioChunk> {
 public:
  EchoReactor() { StartRead(&chunk_); }
  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    StartWrite(&chunk_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::CANCELLED);
      return;
    }
    StartRead(&chunk_);
  }
  void OnDone() override { delete this; }

 private:
  v1::AudioChunk chunk_;
};

class EchoService : public Echo::CallbackService {
  grpc::ServerBidiReactor<v1::AudioChunk, v1::AudioChunk>* Stream(
      grpc::CallbackServerContext*) override {
    return new EchoReactor();
  }
};

// Relay: one client stream in, one echo stream out.
class RelayReactor : public grpc::ServerBidiReactor<v1::ConverseRequest, v1::ConverseEvent> {
 public:
  explicit RelayReactor(Echo::Stub* stub) : backend_(this) {
    stub->async()->Stream(&backend_.context, &backend_);
    backend_.StartRead(&backend_.in);
    backend_.AddHold();  // Released when the client half-closes.
    backend_.StartCall();
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // Client half-closed (or went away): end the backend stream too.
      backend_.StartWritesDone();
      ReleaseBackend();
      return;
    }
    if (request_.has_audio()) {
      backend_.Write(std::move(*request_.mutable_audio()));
    } else if (request_.has_control() && request_.control().type() == v1::Control::END_OF_INPUT) {
      v1::AudioChunk marker;
      marker.set_is_final(true);
      backend_.Write(std::move(marker));
    }
    StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok) return;
    WriteNextLocked();
  }

  void OnDone() override {
    bool delete_now = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      client_done_ = true;
      delete_now = backend_done_;
    }
    if (delete_now) delete this;
  }

  void OnCancel() override {
    backend_.context.TryCancel();
    ReleaseBackend();
  }

 private:
  // The echo stream's client side.
  struct Backend : grpc::ClientBidiReactor<v1::AudioChunk, v1::AudioChunk> {
    explicit Backend(RelayReactor* relay) : relay(relay) {}
    void Write(v1::AudioChunk chunk) {
      std::lock_guard<std::mutex> lock(mu);
      pending.push_back(std::move(chunk));
      if (!writing) WriteNextLocked();
    }
    void WriteNextLocked() {
      if (pending.empty()) return;
      out = std::move(pending.front());
      pending.pop_front();
      writing = true;
      StartWrite(&out);
    }
    void OnWriteDone(bool ok) override {
      std::lock_guard<std::mutex> lock(mu);
      writing = false;
      if (ok) WriteNextLocked();
    }
    void OnReadDone(bool ok) override {
      if (!ok) return;
      relay->Echoed(std::move(in));
      in.Clear();
      StartRead(&in);
    }
    void OnDone(const grpc::Status& status) override { relay->BackendDone(status); }

    RelayReactor* relay;
    grpc::ClientContext context;
    std::mutex mu;
    std::deque<v1::AudioChunk> pending;
    bool writing = false;
    v1::AudioChunk out;
    v1::AudioChunk in;
  };

  // The backend call may end (OnDone) once the client side no longer needs it.
  void ReleaseBackend() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (backend_released_) return;
      backend_released_ = true;
    }
    backend_.RemoveHold();
  }

  void Echoed(v1::AudioChunk chunk) {
    v1::ConverseEvent event;
    if (chunk.is_final()) {
      event.mutable_turn_completed()->set_turn_id(++turn_);
    } else {
      *event.mutable_reply_audio()->mutable_audio() = std::move(chunk);
    }
    std::lock_guard<std::mutex> lock(mu_);
    pending_.push_back(std::move(event));
    if (!writing_) WriteNextLocked();
  }

  void WriteNextLocked() {
    if (pending_.empty()) {
      if (backend_finished_ && !finished_) {
        finished_ = true;
        Finish(backend_status_);
      }
      return;
    }
    out_ = std::move(pending_.front());
    pending_.pop_front();
    writing_ = true;
    StartWrite(&out_);
  }

  void BackendDone(const grpc::Status& status) {
    bool delete_now = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      backend_finished_ = true;
      backend_status_ = status;
      if (!writing_) WriteNextLocked();
      backend_done_ = true;
      delete_now = client_done_;
    }
    if (delete_now) delete this;
  }

  Backend backend_;
  v1::ConverseRequest request_;
  std::mutex mu_;
  std::deque<v1::ConverseEvent> pending_;
  bool writing_ = false;
  v1::ConverseEvent out_;
  int turn_ = 0;
  bool backend_finished_ = false;
  grpc::Status backend_status_;
  bool finished_ = false;
  bool client_done_ = false;
  bool backend_done_ = false;
  bool backend_released_ = false;
};

class RelayService : public v1::Orchestrator::CallbackService {
 public:
  explicit RelayService(const std::string& echo_target)
      : stub_(Echo::NewStub(grpc::CreateChannel(echo_target, grpc::InsecureChannelCredentials()))) {
  }
  grpc::ServerBidiReactor<v1::ConverseRequest, v1::ConverseEvent>* Converse(
      grpc::CallbackServerContext*) override {
    return new RelayReactor(stub_.get());
  }

 private:
  std::unique_ptr<Echo::Stub> stub_;
};

}  // namespace
}  // namespace voxflow::bench

int main(int argc, char** argv) {
  voxflow::BlockTerminationSignals();
  absl::ParseCommandLine(argc, argv);
  const std::string role = absl::GetFlag(FLAGS_role);
  voxflow::ServerOptions options = voxflow::ServerOptionsFromFlags(role, absl::GetFlag(FLAGS_port));
  if (role == "echo") {
    voxflow::bench::EchoService echo;
    return voxflow::RunServerUntilSignal(options, {&echo});
  }
  if (role == "relay") {
    if (absl::GetFlag(FLAGS_echo_target).empty()) {
      std::fprintf(stderr, "relay: --echo_target is required\n");
      return 2;
    }
    voxflow::bench::RelayService relay(absl::GetFlag(FLAGS_echo_target));
    return voxflow::RunServerUntilSignal(options, {&relay});
  }
  std::fprintf(stderr, "unknown --role '%s' (echo or relay)\n", role.c_str());
  return 2;
}
