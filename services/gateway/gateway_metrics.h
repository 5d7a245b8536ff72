// The gateway's metrics, in the process's Prometheus registry:
//   voxflow_gateway_connections_total{kind}        WebSocket connections accepted (twilio, browser)
//   voxflow_gateway_connections{kind}              gauge: open now
//   voxflow_gateway_bridged_sessions               gauge: Converse streams open now
//   voxflow_gateway_bytes_total{direction}         WebSocket payload bytes (in, out)
//   voxflow_gateway_closes_total{code}             connections closed, by WebSocket close code
//   voxflow_gateway_refused_total{reason}          upgrades refused (HTTP status given)
//   voxflow_gateway_voice_to_voice_seconds{kind}   last voiced audio in -> first reply audio out
#ifndef VOXFLOW_SERVICES_GATEWAY_GATEWAY_METRICS_H_
#define VOXFLOW_SERVICES_GATEWAY_GATEWAY_METRICS_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace voxflow::gateway {

class GatewayMetrics {
 public:
  static void ConnectionOpened(const std::string& kind);
  static void ConnectionClosed(const std::string& kind, uint16_t code);
  static void SessionBridged(int delta);
  static void BytesIn(size_t bytes);
  static void BytesOut(size_t bytes);
  static void Refused(const std::string& reason);
  static void VoiceToVoice(const std::string& kind, absl::Duration waited);
};

}  // namespace voxflow::gateway

#endif  // VOXFLOW_SERVICES_GATEWAY_GATEWAY_METRICS_H_
