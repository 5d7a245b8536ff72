// Prometheus metrics for every Voxflow server (prometheus-cpp): one process-wide registry, served
// on /metrics by MetricsServer, and the gRPC server metrics under go-grpc-prometheus's names
// (grpc_server_started_total, grpc_server_handled_total{grpc_code}, grpc_server_msg_received_total,
// grpc_server_msg_sent_total, grpc_server_handling_seconds; labels grpc_type, grpc_service,
// grpc_method), counted by a server interceptor.
#ifndef VOXFLOW_SERVICES_COMMON_METRICS_H_
#define VOXFLOW_SERVICES_COMMON_METRICS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/support/server_interceptor.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace prometheus {
class Exposer;
}

namespace voxflow {

// The registry every metric of this process lives in.
prometheus::Registry& MetricsRegistry();

// voxflow_active_streams{service}: the streams (sessions, for the orchestrator) a service has open.
prometheus::Gauge& ActiveStreamsGauge(const std::string& service);

// voxflow_slow_reader_total{service}: streams ended because their client did not read.
prometheus::Counter& SlowReadersCounter(const std::string& service);

// Histogram buckets for durations that span a real-time conversation: 1 ms to 30 min.
const prometheus::Histogram::BucketBoundaries& DurationBuckets();

// Serves MetricsRegistry() over HTTP at /metrics.
class MetricsServer {
 public:
  // `port` 0 picks a free one (port() tells which).
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& host, int port);
  ~MetricsServer();
  int port() const { return port_; }

 private:
  MetricsServer(std::unique_ptr<prometheus::Exposer> exposer, int port);
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_;
};

// The interceptor creators that count every RPC of a server into MetricsRegistry().
std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
GrpcServerMetricsInterceptors();

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_METRICS_H_
