// gRPC's own log lines (TLS handshake failures, transport errors) through spdlog, so that they
// carry the server's name and format: with --log_format=json every stderr line stays JSON.
#ifndef VOXFLOW_SERVICES_COMMON_GRPC_LOGGING_H_
#define VOXFLOW_SERVICES_COMMON_GRPC_LOGGING_H_

namespace voxflow {

// Call once, after InitLogging.
void RouteGrpcLogsToSpdlog();

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_GRPC_LOGGING_H_
