#include "services/common/metrics.h"

#include <chrono>
#include <exception>

#include "absl/strings/str_cat.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"

namespace voxflow {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::ServerRpcInfo;

const char* TypeName(ServerRpcInfo::Type type) {
  switch (type) {
    case ServerRpcInfo::Type::UNARY:
      return "unary";
    case ServerRpcInfo::Type::CLIENT_STREAMING:
      return "client_stream";
    case ServerRpcInfo::Type::SERVER_STREAMING:
      return "server_stream";
    case ServerRpcInfo::Type::BIDI_STREAMING:
      return "bidi_stream";
  }
  return "unknown";
}

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "Canceled";
    case grpc::StatusCode::UNKNOWN:
      return "Unknown";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "InvalidArgument";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DeadlineExceeded";
    case grpc::StatusCode::NOT_FOUND:
      return "NotFound";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "AlreadyExists";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PermissionDenied";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "ResourceExhausted";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FailedPrecondition";
    case grpc::StatusCode::ABORTED:
      return "Aborted";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OutOfRange";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "Unimplemented";
    case grpc::StatusCode::INTERNAL:
      return "Internal";
    case grpc::StatusCode::UNAVAILABLE:
      return "Unavailable";
    case grpc::StatusCode::DATA_LOSS:
      return "DataLoss";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "Unauthenticated";
    default:
      return "Unknown";
  }
}

// The four families, created once.
struct GrpcFamilies {
  prometheus::Family<prometheus::Counter>& started;
  prometheus::Family<prometheus::Counter>& handled;
  prometheus::Family<prometheus::Counter>& received;
  prometheus::Family<prometheus::Counter>& sent;
  prometheus::Family<prometheus::Histogram>& seconds;

  static GrpcFamilies& Get() {
    static GrpcFamilies* families = new GrpcFamilies{
        prometheus::BuildCounter()
            .Name("grpc_server_started_total")
            .Help("Total number of RPCs started on the server.")
            .Register(MetricsRegistry()),
        prometheus::BuildCounter()
            .Name("grpc_server_handled_total")
            .Help("Total number of RPCs completed on the server, regardless of success or failure.")
            .Register(MetricsRegistry()),
        prometheus::BuildCounter()
            .Name("grpc_server_msg_received_total")
            .Help("Total number of RPC stream messages received on the server.")
            .Register(MetricsRegistry()),
        prometheus::BuildCounter()
            .Name("grpc_server_msg_sent_total")
            .Help("Total number of gRPC stream messages sent by the server.")
            .Register(MetricsRegistry()),
        prometheus::BuildHistogram()
            .Name("grpc_server_handling_seconds")
            .Help("Histogram of response latency (seconds) of gRPC that had been application-level "
                  "handled by the server.")
            .Register(MetricsRegistry()),
    };
    return *families;
  }
};

class MetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit MetricsInterceptor(ServerRpcInfo* info) {
    // "/voxflow.v1.Orchestrator/Converse" -> service, method.
    const std::string full = info->method() != nullptr ? info->method() : "/unknown/unknown";
    const size_t slash = full.rfind('/');
    labels_ = {{"grpc_type", TypeName(info->type())},
               {"grpc_service", full.substr(1, slash - 1)},
               {"grpc_method", full.substr(slash + 1)}};
    GrpcFamilies& families = GrpcFamilies::Get();
    received_ = &families.received.Add(labels_);
    sent_ = &families.sent.Add(labels_);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      start_ = std::chrono::steady_clock::now();
      GrpcFamilies::Get().started.Add(labels_).Increment();
    }
    // The read that finds the end of the stream has no message: not counted.
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() != nullptr) {
      received_->Increment();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      sent_->Increment();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      GrpcFamilies& families = GrpcFamilies::Get();
      prometheus::Labels handled = labels_;
      handled["grpc_code"] = CodeName(methods->GetSendStatus().error_code());
      families.handled.Add(handled).Increment();
      families.seconds.Add(labels_, DurationBuckets())
          .Observe(
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    }
    methods->Proceed();
  }

 private:
  prometheus::Labels labels_;
  prometheus::Counter* received_;
  prometheus::Counter* sent_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

class MetricsInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(ServerRpcInfo* info) override {
    return new MetricsInterceptor(info);
  }
};

}  // namespace

namespace {
// Never destroyed: metrics may be touched by threads that outlive main's objects.
const std::shared_ptr<prometheus::Registry>& SharedRegistry() {
  static auto* registry =
      new std::shared_ptr<prometheus::Registry>(std::make_shared<prometheus::Registry>());
  return *registry;
}
}  // namespace

prometheus::Registry& MetricsRegistry() { return *SharedRegistry(); }

prometheus::Gauge& ActiveStreamsGauge(const std::string& service) {
  static auto& family = prometheus::BuildGauge()
                            .Name("voxflow_active_streams")
                            .Help("Streams open now (the orchestrator's are conversations).")
                            .Register(MetricsRegistry());
  return family.Add({{"service", service}});
}

prometheus::Counter& SlowReadersCounter(const std::string& service) {
  static auto& family =
      prometheus::BuildCounter()
          .Name("voxflow_slow_reader_total")
          .Help(
              "Streams ended (RESOURCE_EXHAUSTED) because the client let more than "
              "--max_unread_bytes of responses wait.")
          .Register(MetricsRegistry());
  return family.Add({{"service", service}});
}

const prometheus::Histogram::BucketBoundaries& DurationBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800};
  return *buckets;
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& host,
                                                                    int port) {
  std::unique_ptr<prometheus::Exposer> exposer;
  try {  // civetweb reports a port it cannot bind by throwing; keep that inside.
    exposer = std::make_unique<prometheus::Exposer>(absl::StrCat(host, ":", port), 2);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", host, ":", port, ": ", e.what()));
  }
  exposer->RegisterCollectable(SharedRegistry());
  const std::vector<int> ports = exposer->GetListeningPorts();
  if (ports.empty()) return absl::UnavailableError("metrics server has no listening port");
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(exposer), ports[0]));
}

MetricsServer::MetricsServer(std::unique_ptr<prometheus::Exposer> exposer, int port)
    : exposer_(std::move(exposer)), port_(port) {}

MetricsServer::~MetricsServer() = default;

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
GrpcServerMetricsInterceptors() {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(std::make_unique<MetricsInterceptorFactory>());
  return creators;
}

}  // namespace voxflow
